/* Tests db_pg_rewrite: `?` placeholders to $n, outside quoted strings and identifiers only. */
#include "config.h"
#include "db/db.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* Rewrites sql and checks the text and that db_pg_rewrite_len is exact and within the bound
 * db.h promises (strlen + 4 per placeholder + 1). */
static void check(const char *sql, const char *want, int n_placeholders, const char *name)
{
    size_t n = db_pg_rewrite_len(sql);
    char *out = malloc(n + 8);
    memset(out, 'X', n + 8);
    db_pg_rewrite(sql, out);
    is_str(out, want, "%s", name);
    is_int(n, strlen(want) + 1, "%s: length is exact", name);
    ok(n <= strlen(sql) + 4 * (size_t)n_placeholders + 1, "%s: length within the bound", name);
    ok(out[n] == 'X', "%s: nothing written past the length", name);
    free(out);
}

int main(void)
{
    check("", "", 0, "empty");
    check("SELECT 1", "SELECT 1", 0, "no placeholders");
    check("?", "$1", 1, "only a placeholder");
    check("SELECT * FROM users WHERE id = ? AND status = ?",
          "SELECT * FROM users WHERE id = $1 AND status = $2", 2, "two placeholders");
    check("UPDATE t SET a=?,b=?,c=?", "UPDATE t SET a=$1,b=$2,c=$3", 3, "adjacent punctuation");
    check("SELECT 'what?' FROM t WHERE x = ?", "SELECT 'what?' FROM t WHERE x = $1", 1,
          "? in a string");
    check("SELECT 'it''s ?', ? FROM t", "SELECT 'it''s ?', $1 FROM t", 1,
          "escaped quote in a string");
    check("SELECT '''?''' , ?", "SELECT '''?''' , $1", 1, "string of escaped quotes only");
    check("SELECT '' , ?", "SELECT '' , $1", 1, "empty string");
    check("SELECT \"odd?col\" FROM t WHERE \"group\" = ?",
          "SELECT \"odd?col\" FROM t WHERE \"group\" = $1", 1, "? in an identifier");
    check("SELECT \"a\"\"?\" = ?", "SELECT \"a\"\"?\" = $1", 1, "escaped quote in an identifier");
    check("SELECT \"it's\" , ?", "SELECT \"it's\" , $1", 1, "single quote inside identifier");
    check("SELECT 'say \"?\"' , ?", "SELECT 'say \"?\"' , $1", 1, "double quote inside string");
    check("SELECT E'\\'?' , ?", "SELECT E'\\'?' , $1", 1, "backslash escape in E string");
    check("SELECT 'a\\' , ?", "SELECT 'a\\' , $1", 1, "backslash is plain in a normal string");
    check("SELECT 1 -- why?\n, ?", "SELECT 1 -- why?\n, $1", 1, "? in a line comment");
    check("SELECT /* a? /* b? */ c? */ ?", "SELECT /* a? /* b? */ c? */ $1", 1,
          "? in nested block comments");
    check("SELECT 'unterminated ?", "SELECT 'unterminated ?", 0, "unterminated string");
    check("INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
          "INSERT INTO t VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)", 12, "two-digit numbers");
    check("SELECT '日本?', ?", "SELECT '日本?', $1", 1, "UTF-8 in a string");

    /* Many placeholders: the numbers grow to four digits and the bound still holds. */
    size_t n_ph = 1200;
    char *sql = malloc(n_ph * 2 + 1);
    for (size_t i = 0; i < n_ph; i++) {
        sql[2 * i] = '?';
        sql[2 * i + 1] = ',';
    }
    sql[2 * n_ph - 1] = '\0';
    size_t len = db_pg_rewrite_len(sql);
    char *out = malloc(len);
    db_pg_rewrite(sql, out);
    ok(!strncmp(out, "$1,$2,", 6), "many: starts with $1,$2,");
    ok(strlen(out) > 6 && !strcmp(out + strlen(out) - 6, ",$1200"), "many: ends with $1200");
    is_int(len, strlen(out) + 1, "many: length is exact");
    ok(len <= strlen(sql) + 4 * n_ph + 1, "many: within the bound");
    free(out);
    free(sql);
    return done_testing();
}
