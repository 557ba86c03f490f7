/* Checks handlers/relay/validate.c: One API's text request checks and their messages. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "tests/unit/tap.h"

#include <json-c/json.h>
#include <stdio.h>

/* The message for body (JSON text) in mode with model, or "ok". */
static const char *check(enum relay_mode mode, const char *body, const char *model)
{
    static char buf[128];
    json_object *j = json_tokener_parse(body);
    const char *m = relay_text_invalid(mode, j, model);
    snprintf(buf, sizeof buf, "%s", m ? m : "ok");
    json_object_put(j);
    return buf;
}

int main(void)
{
    const char *msgs = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    is_str(check(RELAY_CHAT, msgs, "gpt-4o"), "ok", "chat with messages passes");
    is_str(check(RELAY_CHAT, msgs, ""), "model is required", "chat without a model");
    is_str(check(RELAY_CHAT, msgs, NULL), "model is required", "no model at all");
    is_str(check(RELAY_CHAT, "{}", "gpt-4o"), "field messages is required", "chat, no messages");
    is_str(check(RELAY_CHAT, "{\"messages\":[]}", "gpt-4o"), "field messages is required",
           "chat, empty messages");
    is_str(check(RELAY_CHAT, "{\"messages\":null}", "gpt-4o"), "field messages is required",
           "chat, null messages");
    is_str(check(RELAY_CHAT, "{}", ""), "model is required", "the model is checked first");

    is_str(check(RELAY_COMPLETIONS, "{\"prompt\":\"\"}", "m"), "field prompt is required",
           "completions, empty prompt");
    is_str(check(RELAY_COMPLETIONS, "{}", "m"), "ok",
           "completions, missing prompt passes (One API rejects only \"\")");
    is_str(check(RELAY_COMPLETIONS, "{\"prompt\":[]}", "m"), "ok", "an array prompt passes");
    is_str(check(RELAY_COMPLETIONS, "{\"prompt\":\"x\"}", "m"), "ok", "a prompt passes");

    is_str(check(RELAY_MODERATIONS, "{\"input\":\"\"}", "text-moderation-stable"),
           "field input is required", "moderations, empty input");
    is_str(check(RELAY_MODERATIONS, "{}", "text-moderation-stable"), "ok",
           "moderations, missing input passes");

    is_str(check(RELAY_EMBEDDINGS, "{\"input\":\"\"}", "text-embedding-3-small"), "ok",
           "embeddings: no field check");
    is_str(check(RELAY_EMBEDDINGS, "{\"input\":\"x\"}", ""), "model is required",
           "embeddings without a model");

    is_str(check(RELAY_EDITS, "{\"input\":\"x\"}", "text-davinci-edit-001"),
           "field instruction is required", "edits without instruction");
    is_str(check(RELAY_EDITS, "{\"instruction\":\"\"}", "text-davinci-edit-001"),
           "field instruction is required", "edits with an empty instruction");
    is_str(check(RELAY_EDITS, "{\"instruction\":\"Fix it\"}", "text-davinci-edit-001"), "ok",
           "edits with an instruction");

    is_str(check(RELAY_IMAGES, "{}", ""), "ok", "images are not text requests");
    is_str(check(RELAY_TRANSCRIPTION, "{}", ""), "ok", "nor audio");
    return done_testing();
}
