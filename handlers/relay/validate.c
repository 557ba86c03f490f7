/* validate: the checks One API makes on a text request (chat, completions, embeddings,
 * moderations, edits) before it goes upstream, with One API's messages. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "fcgi/json.h"
#include "providers/provider.h"

#include <json-c/json.h>

/* 1 when v is the JSON string "": One API compares prompt and input with "" only, so a
 * missing field or an array passes. */
static int is_empty_string(json_object *v)
{
    return json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0;
}

const char *relay_text_invalid(enum relay_mode mode, json_object *body, const char *model)
{
    if (mode != RELAY_CHAT && mode != RELAY_COMPLETIONS && mode != RELAY_EMBEDDINGS &&
        mode != RELAY_MODERATIONS && mode != RELAY_EDITS)
        return NULL;
    if (!model || !*model)
        return "model is required";
    json_object *v;
    switch (mode) {
    case RELAY_COMPLETIONS:
        if (is_empty_string(jget(body, "prompt")))
            return "field prompt is required";
        break;
    case RELAY_CHAT:
        v = jget(body, "messages");
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
            return "field messages is required";
        break;
    case RELAY_MODERATIONS:
        if (is_empty_string(jget(body, "input")))
            return "field input is required";
        break;
    case RELAY_EDITS:
        v = jget(body, "instruction");
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
            return "field instruction is required";
        break;
    default: break;
    }
    return NULL;
}
