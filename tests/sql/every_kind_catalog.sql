-- One or more objects of every kind that extends the server's types, operators, text search and
-- languages: collations, casts, operators, operator classes and families, access methods, text
-- search configurations, dictionaries, parsers and templates, conversions, transforms and
-- languages. Owned by a role of their own, commented, some in a schema other than public, and
-- extensions that bring objects of the same kinds (which the extract leaves out, as pg_dump does).
-- Runs as a superuser (parsers, templates, operator classes, access methods and languages need
-- one) on PostgreSQL 13 and later; may be loaded into a database with the other every_kind_*.sql.

DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kinds_owner') THEN
        CREATE ROLE kinds_owner NOLOGIN;
    END IF;
END $$;

CREATE SCHEMA kinds_catalog AUTHORIZATION kinds_owner;
COMMENT ON SCHEMA kinds_catalog IS 'objects that extend types, operators, text search and languages';

-- Extension members of the same kinds: casts, operators, operator classes and families (isn), an
-- access method with its operator classes (bloom), a text search template and dictionary (unaccent).
CREATE EXTENSION IF NOT EXISTS isn;
CREATE EXTENSION IF NOT EXISTS bloom;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- collations: libc and ICU, one not deterministic (libc ones of the same names on a server built
-- without ICU)
CREATE COLLATION kinds_catalog.bytewise FROM "C";
DO $$ BEGIN
    CREATE COLLATION kinds_catalog.german (provider = icu, locale = 'de-DE');
    CREATE COLLATION public.caseless (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
EXCEPTION WHEN feature_not_supported THEN
    CREATE COLLATION kinds_catalog.german FROM "POSIX";
    CREATE COLLATION public.caseless FROM "C";
END $$;
ALTER COLLATION kinds_catalog.bytewise OWNER TO kinds_owner;
ALTER COLLATION kinds_catalog.german OWNER TO kinds_owner;
COMMENT ON COLLATION kinds_catalog.german IS 'German dictionary order';
COMMENT ON COLLATION public.caseless IS 'compares without case; the key is password=hunter2-collation';

-- a type of our own for the casts and the transform
CREATE TYPE kinds_catalog.mood AS ENUM ('sad', 'ok', 'happy');
ALTER TYPE kinds_catalog.mood OWNER TO kinds_owner;
CREATE FUNCTION kinds_catalog.mood_rank(kinds_catalog.mood) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$ SELECT array_position(enum_range(NULL::kinds_catalog.mood), $1) $$;

-- casts: with a function, through I/O, and binary coercible
CREATE CAST (kinds_catalog.mood AS integer) WITH FUNCTION kinds_catalog.mood_rank(kinds_catalog.mood) AS ASSIGNMENT;
CREATE CAST (text AS kinds_catalog.mood) WITH INOUT;
CREATE CAST (cid AS integer) WITHOUT FUNCTION AS ASSIGNMENT;
COMMENT ON CAST (kinds_catalog.mood AS integer) IS 'a mood''s rank, saddest first';

-- operators: infix with commutator, negator and estimators, and prefix
CREATE OPERATOR kinds_catalog.=== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4eq, COMMUTATOR = OPERATOR(kinds_catalog.===),
                                  RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR kinds_catalog.!== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4ne,
                                  NEGATOR = OPERATOR(kinds_catalog.===), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR public.@@@ (RIGHTARG = integer, FUNCTION = int4abs);
ALTER OPERATOR kinds_catalog.=== (integer, integer) OWNER TO kinds_owner;
COMMENT ON OPERATOR kinds_catalog.=== (integer, integer) IS 'equal, spelled with three signs';

-- operator families and classes: one family made on its own, one made by its class
CREATE OPERATOR FAMILY kinds_catalog.reverse_ops USING btree;
CREATE OPERATOR CLASS kinds_catalog.int4_reverse_ops FOR TYPE integer USING btree FAMILY kinds_catalog.reverse_ops AS
    OPERATOR 1 >, OPERATOR 2 >=, OPERATOR 3 =, OPERATOR 4 <=, OPERATOR 5 <,
    FUNCTION 1 btint4cmp(integer, integer);
CREATE OPERATOR CLASS kinds_catalog.int4_same_ops FOR TYPE integer USING hash AS
    OPERATOR 1 kinds_catalog.=== , FUNCTION 1 hashint4(integer);
ALTER OPERATOR FAMILY kinds_catalog.reverse_ops USING btree OWNER TO kinds_owner;
ALTER OPERATOR CLASS kinds_catalog.int4_reverse_ops USING btree OWNER TO kinds_owner;
COMMENT ON OPERATOR FAMILY kinds_catalog.reverse_ops USING btree IS 'integers, largest first';
COMMENT ON OPERATOR CLASS kinds_catalog.int4_reverse_ops USING btree IS 'sorts integers largest first';

-- access methods: an index one and a table one
CREATE ACCESS METHOD kinds_btree TYPE INDEX HANDLER bthandler;
CREATE ACCESS METHOD kinds_heap TYPE TABLE HANDLER heap_tableam_handler;
COMMENT ON ACCESS METHOD kinds_heap IS 'the heap, under another name';

-- text search: a parser and a template from the built-in ones' functions, a dictionary, a configuration
CREATE TEXT SEARCH PARSER kinds_catalog.words (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end,
                                               LEXTYPES = prsd_lextype, HEADLINE = prsd_headline);
CREATE TEXT SEARCH TEMPLATE kinds_catalog.plain (INIT = dsimple_init, LEXIZE = dsimple_lexize);
CREATE TEXT SEARCH DICTIONARY kinds_catalog.plain_dict (TEMPLATE = kinds_catalog.plain, STOPWORDS = english, ACCEPT = false);
CREATE TEXT SEARCH DICTIONARY public.english_stem (TEMPLATE = snowball, LANGUAGE = english);
CREATE TEXT SEARCH CONFIGURATION kinds_catalog.docs (PARSER = kinds_catalog.words);
ALTER TEXT SEARCH CONFIGURATION kinds_catalog.docs ADD MAPPING FOR asciiword, word WITH kinds_catalog.plain_dict, public.english_stem;
ALTER TEXT SEARCH CONFIGURATION kinds_catalog.docs ADD MAPPING FOR int WITH simple;
CREATE TEXT SEARCH CONFIGURATION public.docs_copy (COPY = kinds_catalog.docs);
ALTER TEXT SEARCH DICTIONARY kinds_catalog.plain_dict OWNER TO kinds_owner;
ALTER TEXT SEARCH CONFIGURATION kinds_catalog.docs OWNER TO kinds_owner;
COMMENT ON TEXT SEARCH PARSER kinds_catalog.words IS 'the default parser, again';
COMMENT ON TEXT SEARCH TEMPLATE kinds_catalog.plain IS 'the simple template, again';
COMMENT ON TEXT SEARCH DICTIONARY kinds_catalog.plain_dict IS 'English stop words, nothing else';
COMMENT ON TEXT SEARCH CONFIGURATION kinds_catalog.docs IS 'for documents';

-- conversions
CREATE CONVERSION kinds_catalog.latin1_to_utf8 FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
CREATE DEFAULT CONVERSION public.utf8_to_latin1 FOR 'UTF8' TO 'LATIN1' FROM utf8_to_iso8859_1;
ALTER CONVERSION kinds_catalog.latin1_to_utf8 OWNER TO kinds_owner;
COMMENT ON CONVERSION kinds_catalog.latin1_to_utf8 IS 'Latin-1 to UTF-8';

-- a language of our own (plpgsql's handlers under another name), and a transform for it
CREATE LANGUAGE plkinds HANDLER plpgsql_call_handler INLINE plpgsql_inline_handler VALIDATOR plpgsql_validator;
ALTER LANGUAGE plkinds OWNER TO kinds_owner;
COMMENT ON LANGUAGE plkinds IS 'PL/pgSQL under another name';
CREATE FUNCTION kinds_catalog.mood_from_sql(internal) RETURNS internal LANGUAGE internal IMMUTABLE STRICT AS 'brin_minmax_opcinfo';
CREATE FUNCTION kinds_catalog.mood_to_sql(internal) RETURNS kinds_catalog.mood LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE TRANSFORM FOR kinds_catalog.mood LANGUAGE plkinds (
    FROM SQL WITH FUNCTION kinds_catalog.mood_from_sql(internal),
    TO SQL WITH FUNCTION kinds_catalog.mood_to_sql(internal));
COMMENT ON TRANSFORM FOR kinds_catalog.mood LANGUAGE plkinds IS 'moods as PL/pgSQL sees them';
