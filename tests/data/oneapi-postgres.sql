-- A One API PostgreSQL database as the Go build (GORM AutoMigrate) leaves it, with a few rows.
-- Used to check that the C build opens an existing database without changing it.
CREATE TABLE "channels" ("id" bigserial,"type" bigint DEFAULT 0,"key" text,"status" bigint DEFAULT 1,"name" text,"weight" bigint DEFAULT 0,"created_time" bigint,"test_time" bigint,"response_time" bigint,"base_url" text DEFAULT '',"other" text,"balance" decimal,"balance_updated_time" bigint,"models" text,"group" varchar(32) DEFAULT 'default',"used_quota" bigint DEFAULT 0,"model_mapping" varchar(1024) DEFAULT '',"priority" bigint DEFAULT 0,"config" text,"system_prompt" text,PRIMARY KEY ("id"));
CREATE INDEX IF NOT EXISTS "idx_channels_name" ON "channels" ("name");
CREATE TABLE "tokens" ("id" bigserial,"user_id" bigint,"key" char(48),"status" bigint DEFAULT 1,"name" text,"created_time" bigint,"accessed_time" bigint,"expired_time" bigint DEFAULT -1,"remain_quota" bigint DEFAULT 0,"unlimited_quota" boolean DEFAULT false,"used_quota" bigint DEFAULT 0,"models" text,"subnet" text DEFAULT '',PRIMARY KEY ("id"));
CREATE UNIQUE INDEX IF NOT EXISTS "idx_tokens_key" ON "tokens" ("key");
CREATE INDEX IF NOT EXISTS "idx_tokens_name" ON "tokens" ("name");
CREATE TABLE "users" ("id" bigserial,"username" text UNIQUE,"password" text NOT NULL,"display_name" text,"role" bigint DEFAULT 1,"status" bigint DEFAULT 1,"email" text,"github_id" text,"wechat_id" text,"lark_id" text,"oidc_id" text,"access_token" char(32),"quota" bigint DEFAULT 0,"used_quota" bigint DEFAULT 0,"request_count" bigint DEFAULT 0,"group" varchar(32) DEFAULT 'default',"aff_code" varchar(32),"inviter_id" bigint,PRIMARY KEY ("id"));
CREATE INDEX IF NOT EXISTS "idx_users_inviter_id" ON "users" ("inviter_id");
CREATE UNIQUE INDEX IF NOT EXISTS "idx_users_aff_code" ON "users" ("aff_code");
CREATE UNIQUE INDEX IF NOT EXISTS "idx_users_access_token" ON "users" ("access_token");
CREATE INDEX IF NOT EXISTS "idx_users_oidc_id" ON "users" ("oidc_id");
CREATE INDEX IF NOT EXISTS "idx_users_lark_id" ON "users" ("lark_id");
CREATE INDEX IF NOT EXISTS "idx_users_wechat_id" ON "users" ("wechat_id");
CREATE INDEX IF NOT EXISTS "idx_users_github_id" ON "users" ("github_id");
CREATE INDEX IF NOT EXISTS "idx_users_email" ON "users" ("email");
CREATE INDEX IF NOT EXISTS "idx_users_display_name" ON "users" ("display_name");
CREATE INDEX IF NOT EXISTS "idx_users_username" ON "users" ("username");
CREATE TABLE "options" ("key" text,"value" text,PRIMARY KEY ("key"));
CREATE TABLE "redemptions" ("id" bigserial,"user_id" bigint,"key" char(32),"status" bigint DEFAULT 1,"name" text,"quota" bigint DEFAULT 100,"created_time" bigint,"redeemed_time" bigint,PRIMARY KEY ("id"));
CREATE INDEX IF NOT EXISTS "idx_redemptions_name" ON "redemptions" ("name");
CREATE UNIQUE INDEX IF NOT EXISTS "idx_redemptions_key" ON "redemptions" ("key");
CREATE TABLE "abilities" ("group" varchar(32),"model" text,"channel_id" bigint,"enabled" boolean,"priority" bigint DEFAULT 0,PRIMARY KEY ("group","model","channel_id"));
CREATE INDEX IF NOT EXISTS "idx_abilities_priority" ON "abilities" ("priority");
CREATE INDEX IF NOT EXISTS "idx_abilities_channel_id" ON "abilities" ("channel_id");
CREATE TABLE "logs" ("id" bigserial,"user_id" bigint,"created_at" bigint,"type" bigint,"content" text,"username" text DEFAULT '',"token_name" text DEFAULT '',"model_name" text DEFAULT '',"quota" bigint DEFAULT 0,"prompt_tokens" bigint DEFAULT 0,"completion_tokens" bigint DEFAULT 0,"channel_id" bigint,"request_id" text DEFAULT '',"elapsed_time" bigint DEFAULT 0,"is_stream" boolean DEFAULT false,"system_prompt_reset" boolean DEFAULT false,PRIMARY KEY ("id"));
CREATE INDEX IF NOT EXISTS "idx_logs_channel_id" ON "logs" ("channel_id");
CREATE INDEX IF NOT EXISTS "idx_logs_model_name" ON "logs" ("model_name");
CREATE INDEX IF NOT EXISTS "index_username_model_name" ON "logs" ("model_name","username");
CREATE INDEX IF NOT EXISTS "idx_logs_token_name" ON "logs" ("token_name");
CREATE INDEX IF NOT EXISTS "idx_created_at_type" ON "logs" ("created_at","type");
CREATE INDEX IF NOT EXISTS "idx_logs_user_id" ON "logs" ("user_id");
-- The password of 'legacy' is legacypass1 (bcrypt, cost 10, Go's $2a$ prefix).
INSERT INTO "users" ("username","password","display_name","role","status","email","github_id","wechat_id","lark_id","oidc_id","access_token","quota","used_quota","request_count","group","aff_code","inviter_id") VALUES ('legacy','$2a$10$ql8waHA77q366CQE2e8dneLiVHqsX4OQOZkk2tveNfA6l/82CjZhq','Legacy User',1,1,'legacy@example.com','','','','','0123456789abcdef0123456789abcdef',4500000,500000,321,'default','x7Qa',0) RETURNING "id";
INSERT INTO "tokens" ("user_id","key","status","name","created_time","accessed_time","expired_time","remain_quota","unlimited_quota","used_quota","models","subnet") VALUES (1,'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV',1,'legacy-key',1718000000,1718000500,-1,0,true,0,NULL,'') RETURNING "id";
INSERT INTO "options" ("key","value") VALUES ('SystemName','Legacy API');
