/* Response helpers in One API's shapes: the /api envelope, the OpenAI list and error bodies. */
#ifndef OA_RESPOND_H
#define OA_RESPOND_H
#include <stdint.h>

struct json_object;
struct req;

/* 200 {"success":true,"message":"","data":data}; takes ownership of data (NULL omits it). */
void api_ok(struct req *r, struct json_object *data);
/* status {"success":false,"message":msg}. Management errors are HTTP 200 unless noted. */
void api_fail(struct req *r, int status, const char *msg);
/* status {"error":{"message":msg,"type":type,"param":"","code":code}}. code NULL omits
 * param and code (the auth/distributor shape); with_request_id appends " (request id: X)". */
void openai_error(struct req *r, int status, const char *msg, const char *type, const char *code,
                  int with_request_id);
/* The localised "invalid parameter" text for r's Accept-Language. */
const char *msg_invalid_parameter(struct req *r);
/* One API's fixed page size of /api listings. */
#define API_PAGE_SIZE 10
/* The row offset of the page the query's `p` asks for (zero-based; missing, negative or not a
 * number is page 0; clamped so that the offset cannot overflow). */
int64_t api_page_offset(struct req *r);

/* The id a search keyword names: its value when it is a decimal number, else -1 (no row has
 * it), so that `id = ? OR name LIKE ?` matches by name only. */
int64_t api_keyword_id(const char *keyword);

/* Serialises j (not consumed) into the response body with status. */
void respond_json(struct req *r, int status, struct json_object *j);
/* 200 {"object":"list","data":data}, OpenAI's list envelope; takes ownership of data (an
 * array). */
void respond_list(struct req *r, struct json_object *data);

#endif
