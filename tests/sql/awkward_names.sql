-- =============================================================================
-- Awkward identifiers and comments, for the PostgreSQL collector tests.
--
-- Every object here has a name or comment chosen to break naive handling of
-- identifiers and of CSV output: dots (which look like schema.table
-- separators), double quotes, pipes, commas, semicolons, newlines, tabs,
-- leading and trailing spaces, capitals, reserved words, non-ASCII text
-- (accents, Japanese, emoji), backslashes, single quotes, '%' placeholders
-- and names of exactly 63 bytes (the PostgreSQL maximum, NAMEDATALEN - 1).
-- Each object carries a comment saying what it stresses.
--
-- Run as a superuser in a fresh UTF-8 database, on PostgreSQL 15 or later:
--     psql -v ON_ERROR_STOP=1 -d awkward -f awkward_names.sql
-- No psql meta-commands; the file can also be sent as one multi-statement
-- string. It creates no roles and does not depend on the demo sample schema
-- (schemas: awk, "awk.dotted", "Awkward.Schema ""Q"" | Ünï", "日本語スキーマ").
-- =============================================================================

SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SET client_min_messages = warning;


-- -----------------------------------------------------------------------------
-- Schemas
-- -----------------------------------------------------------------------------

-- Plain schema holding most of the awkward tables, so that table and column
-- names can be tested separately from awkward schema names.
CREATE SCHEMA awk;
COMMENT ON SCHEMA awk IS 'Plain schema name; holds tables with awkward names. Comment with a | pipe, a "quote" and a comma, here.';

-- Dot inside a schema name: "awk.dotted".t and awk."dotted.t" both print as
-- awk.dotted.t when names are joined without quoting.
CREATE SCHEMA "awk.dotted";
COMMENT ON SCHEMA "awk.dotted" IS 'Stresses: a dot inside a schema name (collides with awk."dotted.t" when unquoted).';

-- Dot, double quote, pipe, capitals, spaces and non-ASCII in one schema name.
CREATE SCHEMA "Awkward.Schema ""Q"" | Ünï";
COMMENT ON SCHEMA "Awkward.Schema ""Q"" | Ünï" IS E'Stresses: dot, double quote, pipe, capitals, spaces and non-ASCII in a schema name.\nSecond line of the comment.';

-- Non-ASCII (Japanese) schema name.
CREATE SCHEMA "日本語スキーマ";
COMMENT ON SCHEMA "日本語スキーマ" IS 'Stresses: a schema name made only of Japanese characters (3 bytes each in UTF-8).';


-- -----------------------------------------------------------------------------
-- Tables in schema awk
-- -----------------------------------------------------------------------------

-- Reserved words as table and column names.
CREATE TABLE awk."select" (
    id       integer CONSTRAINT "pk|""select"".id" PRIMARY KEY,
    "table"  text,
    "user"   text,
    "order"  integer,
    "from"   date,
    "group"  text,
    "where"  boolean
);
COMMENT ON TABLE awk."select" IS 'Stresses: reserved word "select" as a table name; columns "table", "user", "order", "from", "group", "where".';
COMMENT ON COLUMN awk."select"."table" IS 'Reserved word "table" as a column name.';
COMMENT ON COLUMN awk."select"."user" IS 'Reserved word "user" (not current_user!) as a column name.';
COMMENT ON COLUMN awk."select"."order" IS 'Reserved word "order" as a column name.';
COMMENT ON CONSTRAINT "pk|""select"".id" ON awk."select" IS 'Stresses: constraint name with a pipe, double quotes and a dot.';

CREATE TABLE awk."table" (
    "user"  text NOT NULL,
    "order" integer
);
COMMENT ON TABLE awk."table" IS 'Stresses: reserved word "table" as a table name.';

CREATE TABLE awk."user" (
    "select" text,
    "order"  integer
);
COMMENT ON TABLE awk."user" IS 'Stresses: reserved word "user" as a table name.';

CREATE TABLE awk."order" (
    "desc" text,
    "asc"  text
);
COMMENT ON TABLE awk."order" IS 'Stresses: reserved word "order" as a table name; columns "desc" and "asc".';

-- Capitals, space and dot; serial creates a sequence named after them.
CREATE TABLE awk."Order Lines.v2" (
    "Line No"          serial PRIMARY KEY,
    "select_id"        integer REFERENCES awk."select" (id),
    "Unit.Price"       numeric(12,2),
    "Qty|Ordered"      integer,
    "Notes ""quoted""" text
);
COMMENT ON TABLE awk."Order Lines.v2" IS 'Stresses: capitals, a space and a dot in a table name.';
COMMENT ON COLUMN awk."Order Lines.v2"."Line No" IS 'Stresses: capitals and a space; its serial sequence is "Order Lines.v2_Line No_seq".';
COMMENT ON COLUMN awk."Order Lines.v2"."Unit.Price" IS 'Stresses: a dot inside a column name (looks like table.column).';
COMMENT ON COLUMN awk."Order Lines.v2"."Qty|Ordered" IS 'Stresses: a pipe inside a column name | and in its comment |.';
COMMENT ON COLUMN awk."Order Lines.v2"."Notes ""quoted""" IS 'Stresses: double quotes inside a column name: Notes "quoted".';
COMMENT ON SEQUENCE awk."Order Lines.v2_Line No_seq" IS 'Stresses: a sequence name derived from an awkward table and column name.';

-- Pipes (a common CSV/record separator) in table and column names.
CREATE TABLE awk."pipe|separated|table" (
    "a|b" text,
    "c"   text
);
COMMENT ON TABLE awk."pipe|separated|table" IS 'Stresses: pipes in a table name | and | in the comment.';
COMMENT ON COLUMN awk."pipe|separated|table"."a|b" IS 'Stresses: pipe in a column name.';

-- Double quotes in names, including a name that is just one double quote.
CREATE TABLE awk."double""quote" (
    """"                 text,
    """leading quote"    text,
    "trailing quote"""   text,
    "two""""quotes"      text
);
COMMENT ON TABLE awk."double""quote" IS 'Stresses: a double quote inside a table name: double"quote.';
COMMENT ON COLUMN awk."double""quote"."""" IS 'Stresses: a column whose whole name is one double quote (").';
COMMENT ON COLUMN awk."double""quote"."""leading quote" IS 'Stresses: a name starting with a double quote.';
COMMENT ON COLUMN awk."double""quote"."trailing quote""" IS 'Stresses: a name ending with a double quote.';
COMMENT ON COLUMN awk."double""quote"."two""""quotes" IS 'Stresses: two consecutive double quotes inside a name: two""quotes.';

-- Newline, carriage return and tab inside names (written with U&"..." escapes).
CREATE TABLE awk.U&"new\000Aline table" (
    U&"col\000Awith newline"   text,
    U&"crlf\000D\000Acol"      text,
    U&"tab\0009col"            text
);
COMMENT ON TABLE awk.U&"new\000Aline table" IS 'Stresses: a newline (LF) inside a table name.';
COMMENT ON COLUMN awk.U&"new\000Aline table".U&"col\000Awith newline" IS 'Stresses: a newline inside a column name.';
COMMENT ON COLUMN awk.U&"new\000Aline table".U&"crlf\000D\000Acol" IS 'Stresses: CR LF inside a column name.';
COMMENT ON COLUMN awk.U&"new\000Aline table".U&"tab\0009col" IS 'Stresses: a tab inside a column name.';

-- Accented Latin characters.
CREATE TABLE awk."café_münchen_ß" (
    "prix_€"   numeric(10,2),
    "größe"    text,
    "Ärger"    text
);
COMMENT ON TABLE awk."café_münchen_ß" IS 'Stresses: accented Latin letters (é, ü, ß) in a table name.';
COMMENT ON COLUMN awk."café_münchen_ß"."prix_€" IS 'Stresses: the euro sign (3 bytes) in a column name.';
COMMENT ON COLUMN awk."café_münchen_ß"."Ärger" IS 'Stresses: a capital non-ASCII letter (needs quoting).';

-- Japanese names.
CREATE TABLE awk."日本語テーブル" (
    "社員番号"  integer PRIMARY KEY,
    "名前"      text NOT NULL,
    "部署"      text
);
COMMENT ON TABLE awk."日本語テーブル" IS 'Stresses: a Japanese table name. 日本語のコメント。';
COMMENT ON COLUMN awk."日本語テーブル"."名前" IS '名前 (name): Japanese column name and comment.';

-- Emoji, including a multi-code-point flag.
CREATE TABLE awk."emoji_🎉_party" (
    "🔑"          integer PRIMARY KEY,
    "💰 amount"   numeric(12,2),
    "flag_🇦🇺"     text
);
COMMENT ON TABLE awk."emoji_🎉_party" IS 'Stresses: emoji (4 bytes in UTF-8, outside the BMP) in a table name 🎉.';
COMMENT ON COLUMN awk."emoji_🎉_party"."🔑" IS 'Stresses: a column name that is a single emoji.';
COMMENT ON COLUMN awk."emoji_🎉_party"."flag_🇦🇺" IS 'Stresses: a flag emoji made of two code points.';

-- Commas and semicolons.
CREATE TABLE awk."comma,separated,name" (
    "a,b" text,
    "c;d" text
);
COMMENT ON TABLE awk."comma,separated,name" IS 'Stresses: commas in a table name, and in this comment: one, two, three.';
COMMENT ON COLUMN awk."comma,separated,name"."a,b" IS 'Stresses: a comma in a column name.';
COMMENT ON COLUMN awk."comma,separated,name"."c;d" IS 'Stresses: a semicolon in a column name.';

-- Leading and trailing spaces.
CREATE TABLE awk." leading and trailing spaces " (
    " padded "  text,
    "  "        text
);
COMMENT ON TABLE awk." leading and trailing spaces " IS ' Stresses: leading and trailing spaces in a table name (this comment has them too). ';
COMMENT ON COLUMN awk." leading and trailing spaces "."  " IS 'Stresses: a column name made of two spaces only.';

-- Names differing only by case.
CREATE TABLE awk.mixedcase (id integer);
CREATE TABLE awk."MixedCase" (id integer);
CREATE TABLE awk."MIXEDCASE" (id integer);
COMMENT ON TABLE awk.mixedcase IS 'Stresses: case folding; unquoted, so stored in lower case.';
COMMENT ON TABLE awk."MixedCase" IS 'Stresses: differs from awk.mixedcase only by case.';
COMMENT ON TABLE awk."MIXEDCASE" IS 'Stresses: differs from awk.mixedcase only by case (all capitals).';

-- Exactly 63 bytes: the longest identifier PostgreSQL keeps without truncation.
CREATE TABLE awk.sixty_three_byte_table_name_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx (
    sixty_three_byte_column_name_yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy integer,
    "Ünïcödé_63_bytes_表表表表表表表表表表表表表表" text
);
COMMENT ON TABLE awk.sixty_three_byte_table_name_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx IS 'Stresses: a table name of exactly 63 bytes (the maximum).';
COMMENT ON COLUMN awk.sixty_three_byte_table_name_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sixty_three_byte_column_name_yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy IS 'Stresses: a column name of exactly 63 bytes.';
COMMENT ON COLUMN awk.sixty_three_byte_table_name_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx."Ünïcödé_63_bytes_表表表表表表表表表表表表表表" IS 'Stresses: 63 bytes but only 31 characters (multi-byte UTF-8); truncating by characters is wrong.';

-- Looks like SQL injection; backslash, single quote and printf/pyformat placeholders.
CREATE TABLE awk."x""; DROP TABLE awk.""select""; --" (
    "back\slash"  text,
    "it's"        text,
    "100%_pct"    numeric(5,2),
    "%s %(name)s" text
);
COMMENT ON TABLE awk."x""; DROP TABLE awk.""select""; --" IS 'Stresses: a name that looks like SQL injection (quote, semicolon, comment marker).';
COMMENT ON COLUMN awk."x""; DROP TABLE awk.""select""; --"."back\slash" IS 'Stresses: a backslash in a name: back\slash.';
COMMENT ON COLUMN awk."x""; DROP TABLE awk.""select""; --"."it's" IS 'Stresses: a single quote in a name (it''s).';
COMMENT ON COLUMN awk."x""; DROP TABLE awk.""select""; --"."%s %(name)s" IS 'Stresses: printf / Python format placeholders (%s, %(name)s) in a name.';

-- Dotted-name collision with "awk.dotted".t below.
CREATE TABLE awk."dotted.t" (id integer, source text DEFAULT 'awk."dotted.t"');
COMMENT ON TABLE awk."dotted.t" IS 'Stresses: schema awk + table "dotted.t" prints as awk.dotted.t, like schema "awk.dotted" + table t.';

CREATE TABLE "awk.dotted".t (id integer, source text DEFAULT '"awk.dotted".t');
COMMENT ON TABLE "awk.dotted".t IS 'Stresses: schema "awk.dotted" + table t prints as awk.dotted.t, like schema awk + table "dotted.t".';

-- Comments full of awkward characters (on an ordinary table).
CREATE TABLE awk.comment_zoo (
    pipes         text,
    quotes        text,
    doubled       text,
    newlines      text,
    backslash_n   text,
    commas        text,
    padded        text,
    everything    text
);
COMMENT ON TABLE awk.comment_zoo IS E'Table whose column comments stress CSV output.\nLine 2 | with a pipe, a comma and a "quote".';
COMMENT ON COLUMN awk.comment_zoo.pipes IS 'a|b|c || double pipe';
COMMENT ON COLUMN awk.comment_zoo.quotes IS 'He said "hello" and left';
COMMENT ON COLUMN awk.comment_zoo.doubled IS 'Already doubled: ""quoted"" and a lone "';
COMMENT ON COLUMN awk.comment_zoo.newlines IS E'line one\nline two\r\nline three (CRLF before it)\n';
COMMENT ON COLUMN awk.comment_zoo.backslash_n IS 'Literal backslash-n, not a newline: first\nsecond; and a tab escape \t';
COMMENT ON COLUMN awk.comment_zoo.commas IS 'one, two, three,, four,';
COMMENT ON COLUMN awk.comment_zoo.padded IS '   leading and trailing spaces   ';
COMMENT ON COLUMN awk.comment_zoo.everything IS E' |"""|,\n\\n\ttab; it''s 日本語 🎉 ';

-- Enum type with an awkward name and awkward labels.
CREATE TYPE awk."status.enum|""x""" AS ENUM ('a|b', 'c"d', 'e,f', E'g\nh', ' padded ');
COMMENT ON TYPE awk."status.enum|""x""" IS 'Stresses: dot, pipe and quotes in a type name; enum labels with |, ", comma, newline and spaces.';

CREATE TABLE awk.uses_awkward_enum (
    id     integer PRIMARY KEY,
    status awk."status.enum|""x""" NOT NULL
);
COMMENT ON TABLE awk.uses_awkward_enum IS 'A column whose type name must be quoted: awk."status.enum|""x""".';

-- Index with an awkward name.
CREATE INDEX "idx.on|""select"" 🎯" ON awk."select" ("order", "user");
COMMENT ON INDEX awk."idx.on|""select"" 🎯" IS 'Stresses: an index name with a dot, pipe, quotes, space and emoji.';


-- -----------------------------------------------------------------------------
-- Objects in the awkward schemas
-- -----------------------------------------------------------------------------

CREATE TABLE "Awkward.Schema ""Q"" | Ünï"."Table.With|Everything ""At"" Once 日本語 🎉" (
    "ID"                      integer PRIMARY KEY,
    "Col.Name|Pipe ""Q"" é"   text,
    "select"                  text,
    U&"multi\000Aline"        text
);
COMMENT ON TABLE "Awkward.Schema ""Q"" | Ünï"."Table.With|Everything ""At"" Once 日本語 🎉" IS 'Stresses: every awkward character at once, in a schema with an awkward name too.';
COMMENT ON COLUMN "Awkward.Schema ""Q"" | Ünï"."Table.With|Everything ""At"" Once 日本語 🎉"."ID" IS 'Stresses: an upper-case column name ("ID" is not id).';
COMMENT ON COLUMN "Awkward.Schema ""Q"" | Ünï"."Table.With|Everything ""At"" Once 日本語 🎉"."Col.Name|Pipe ""Q"" é" IS 'Stresses: dot, pipe, quotes, space and é in one column name.';
COMMENT ON COLUMN "Awkward.Schema ""Q"" | Ünï"."Table.With|Everything ""At"" Once 日本語 🎉".U&"multi\000Aline" IS E'Stresses: newline in a column name.\nAnd in the comment.';

CREATE TABLE "日本語スキーマ"."社員" (
    "社員ID" integer PRIMARY KEY,
    "氏名"   text NOT NULL
);
COMMENT ON TABLE "日本語スキーマ"."社員" IS 'Stresses: Japanese schema, table and column names (社員 = employees).';

-- A view over the awkward tables, with awkward output column names.
CREATE VIEW "Awkward.Schema ""Q"" | Ünï"."view.of|awkward ""names"" 👀" AS
SELECT s.id                          AS "select.id",
       s."user"                      AS "user|name",
       s."order"                     AS "order ""n""",
       ol."Unit.Price"               AS "Unit.Price",
       ol."Qty|Ordered"              AS "Qty|Ordered",
       j."名前"                      AS "名前",
       e."💰 amount"                 AS "💰",
       t."Col.Name|Pipe ""Q"" é"     AS U&"col\000Anewline"
  FROM awk."select" s
  LEFT JOIN awk."Order Lines.v2" ol ON ol."select_id" = s.id
  LEFT JOIN awk."日本語テーブル" j ON j."社員番号" = s.id
  LEFT JOIN awk."emoji_🎉_party" e ON e."🔑" = s.id
  LEFT JOIN "Awkward.Schema ""Q"" | Ünï"."Table.With|Everything ""At"" Once 日本語 🎉" t ON t."ID" = s.id;
COMMENT ON VIEW "Awkward.Schema ""Q"" | Ünï"."view.of|awkward ""names"" 👀" IS 'Stresses: a view (lineage across awkward names) with a dot, pipe, quotes and emoji in its name and output columns.';
COMMENT ON COLUMN "Awkward.Schema ""Q"" | Ünï"."view.of|awkward ""names"" 👀"."select.id" IS 'Stresses: a view column with a dot, built from awk."select".id.';

-- Function with an awkward name and two overloads.
CREATE FUNCTION "Awkward.Schema ""Q"" | Ünï"."calc.total|""v2"" é"("select" integer)
RETURNS integer
LANGUAGE sql
IMMUTABLE
RETURN "select" * 2;
COMMENT ON FUNCTION "Awkward.Schema ""Q"" | Ünï"."calc.total|""v2"" é"(integer) IS 'Stresses: awkward function name, overload 1 of 2 (integer); argument named "select".';

CREATE FUNCTION "Awkward.Schema ""Q"" | Ünï"."calc.total|""v2"" é"("order|arg" text, "Second Arg" text DEFAULT ', ')
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$ SELECT "order|arg" || "Second Arg" || '|"done"' $$;
COMMENT ON FUNCTION "Awkward.Schema ""Q"" | Ünï"."calc.total|""v2"" é"(text, text) IS 'Stresses: awkward function name, overload 2 of 2 (text, text); argument names with a pipe and a space.';

-- Function whose name contains a newline, in the plain schema.
CREATE FUNCTION awk.U&"fn\000Anewline"()
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$ SELECT E'multi\nline' $$;
COMMENT ON FUNCTION awk.U&"fn\000Anewline"() IS 'Stresses: a newline inside a function name.';


-- -----------------------------------------------------------------------------
-- A few rows, with awkward values too
-- -----------------------------------------------------------------------------

INSERT INTO awk."select" (id, "table", "user", "order", "from", "group", "where")
VALUES (1, 'plain', 'alice', 1, DATE '2024-01-01', 'a|b', true),
       (2, E'multi\nline', 'bob "the builder"', 2, DATE '2024-02-29', 'c,d', false),
       (3, ' padded ', 'carol''s', 3, NULL, '日本語 🎉', NULL);

INSERT INTO awk."Order Lines.v2" ("select_id", "Unit.Price", "Qty|Ordered", "Notes ""quoted""")
VALUES (1, 9.99, 3, 'first'), (2, 120.00, 1, 'has "quotes" | and pipes'), (3, 0.50, 100, E'new\nline');

INSERT INTO awk."pipe|separated|table" VALUES ('x|y', 'z'), ('||', '');
INSERT INTO awk."double""quote" VALUES ('"', '"lead', 'trail"', '""');
INSERT INTO awk.U&"new\000Aline table" VALUES (E'a\nb', E'c\r\nd', E'e\tf');
INSERT INTO awk."café_münchen_ß" VALUES (4.50, 'groß', 'Ärger');
INSERT INTO awk."日本語テーブル" VALUES (1, '山田太郎', '営業部'), (2, '佐藤花子', '開発部');
INSERT INTO awk."emoji_🎉_party" VALUES (1, 10.00, '🇦🇺'), (2, 20.00, '🇯🇵');
INSERT INTO awk."comma,separated,name" VALUES ('1,2', '3;4');
INSERT INTO awk." leading and trailing spaces " VALUES (' x ', '  ');
INSERT INTO awk.mixedcase VALUES (1);
INSERT INTO awk."MixedCase" VALUES (2);
INSERT INTO awk."MIXEDCASE" VALUES (3);
INSERT INTO awk.sixty_three_byte_table_name_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx VALUES (63, 'sixty-three');
INSERT INTO awk."x""; DROP TABLE awk.""select""; --" VALUES ('C:\temp', 'it''s', 99.50, '%s');
INSERT INTO awk."dotted.t" (id) VALUES (1);
INSERT INTO "awk.dotted".t (id) VALUES (2);
INSERT INTO awk.comment_zoo VALUES ('a|b', '"q"', '""', E'1\n2', '1\n2', 'a,b', ' p ', E' |"\n,');
INSERT INTO awk.uses_awkward_enum VALUES (1, 'a|b'), (2, 'c"d'), (3, E'g\nh');
INSERT INTO "Awkward.Schema ""Q"" | Ünï"."Table.With|Everything ""At"" Once 日本語 🎉"
VALUES (1, 'é|"', 'select', E'x\ny'), (2, NULL, NULL, NULL);
INSERT INTO "日本語スキーマ"."社員" VALUES (1, '鈴木一郎');

ANALYZE;
