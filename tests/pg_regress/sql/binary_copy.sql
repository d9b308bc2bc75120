-- The binary format: send bytes, binary COPY round trip, and recv errors fed through
-- binary COPY (a bytea field's binary COPY bytes are exactly what vector_recv reads).
\set VERBOSITY terse
SELECT vector_send('[1,2,3]');
SELECT vector_send('[-0.5]');
CREATE TABLE src (id int, v vector(3));
INSERT INTO src VALUES (1, '[1,2,3]'), (2, '[-1.5,0,1e-07]'), (3, NULL), (4, '[3.4028235e+38,1e-45,-0]');
\copy src TO 'vectors.bin' WITH (FORMAT binary)
CREATE TABLE dst (id int, v vector(3));
\copy dst FROM 'vectors.bin' WITH (FORMAT binary)
SELECT id, v FROM dst ORDER BY id;
SELECT count(*) AS mismatches FROM src JOIN dst USING (id) WHERE src.v IS DISTINCT FROM dst.v;
-- text COPY too
\copy src TO 'vectors.txt'
TRUNCATE dst;
\copy dst FROM 'vectors.txt'
SELECT count(*) AS mismatches FROM src JOIN dst USING (id) WHERE src.v IS DISTINCT FROM dst.v;
-- halfvec: the same format with float16 elements
SELECT halfvec_send('[1,-2,65504]');
CREATE TABLE hsrc (id int, v halfvec(3));
INSERT INTO hsrc VALUES (1, '[1,2,3]'), (2, '[-1.5,0,6e-08]'), (3, NULL), (4, '[65504,-65504,-0]');
\copy hsrc TO 'halves.bin' WITH (FORMAT binary)
CREATE TABLE hdst (id int, v halfvec(3));
\copy hdst FROM 'halves.bin' WITH (FORMAT binary)
SELECT id, v FROM hdst ORDER BY id;
SELECT count(*) AS mismatches FROM hsrc JOIN hdst USING (id) WHERE hsrc.v IS DISTINCT FROM hdst.v;

-- Server-side COPY for the error cases: psql's \copy does not set LAST_ERROR_SQLSTATE.
\getenv builddir PG_ABS_BUILDDIR
\set bad :builddir '/bad.bin'
CREATE TABLE raw (b bytea);
CREATE TABLE sink (v vector);
CREATE TABLE sink3 (v vector(3));
-- Errors: the message, then its SQLSTATE.
-- unused field must be zero (22000)
TRUNCATE raw; INSERT INTO raw VALUES ('\x000100013f800000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- zero dimensions (22000)
TRUNCATE raw; INSERT INTO raw VALUES ('\x00000000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- negative dimensions (22000)
TRUNCATE raw; INSERT INTO raw VALUES ('\xffff0000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- too many dimensions: 16001 (54000)
TRUNCATE raw; INSERT INTO raw VALUES ('\x3e810000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- NaN and infinity (22000)
TRUNCATE raw; INSERT INTO raw VALUES ('\x000100007fc00000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
TRUNCATE raw; INSERT INTO raw VALUES ('\x000100007f800000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- fewer floats than dim says (08P01)
TRUNCATE raw; INSERT INTO raw VALUES ('\x000200003f800000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- trailing bytes after the last float (22P03)
TRUNCATE raw; INSERT INTO raw VALUES ('\x000100003f80000000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- typmod mismatch (22000)
TRUNCATE raw; INSERT INTO raw VALUES ('\x000100003f800000');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY sink3 FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- the good one loads
COPY sink FROM :'bad' WITH (FORMAT binary);
SELECT v FROM sink;
-- halfvec's errors: NaN (0x7e00) and infinity (0x7c00) halves (22000), unused not zero
-- (22000), fewer halves than dim says (08P01)
CREATE TABLE hsink (v halfvec);
TRUNCATE raw; INSERT INTO raw VALUES ('\x000100007e00');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY hsink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
TRUNCATE raw; INSERT INTO raw VALUES ('\x000100007c00');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY hsink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
TRUNCATE raw; INSERT INTO raw VALUES ('\x000100013c00');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY hsink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
TRUNCATE raw; INSERT INTO raw VALUES ('\x000200003c00');
COPY raw TO :'bad' WITH (FORMAT binary);
COPY hsink FROM :'bad' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
DROP TABLE src, dst, raw, sink, sink3, hsrc, hdst, hsink;
