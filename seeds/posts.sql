-- Deterministic posts, after the users: every value is a function of the author's id and the
-- post's number, through md5, so the same user count gives the same posts (and checksum) on
-- any machine. Set-based: one INSERT ... SELECT.
-- How many posts a user has follows a Lomax (Pareto II) law, shape 1.3 and scale 4, capped at
-- 600: a mean near 10, a quarter of users with none, a median of 2, and a few with hundreds.
-- A post is written between its author's sign-up and 2025-01-01, to the second. Ids follow
-- created_at (ties by author, then number), so consecutive ids mostly have different authors,
-- as a real feed does.
WITH words AS (
    SELECT
        ARRAY['Notes on', 'Lessons from', 'A field guide to', 'Why we changed', 'Measuring', 'Debugging',
              'Rethinking', 'What we learned about', 'The cost of', 'Living with', 'Tuning', 'Shipping',
              'Notes on', 'Measuring', 'Debugging', 'Tuning'] AS openings,
        ARRAY['connection pools', 'the N+1 problem', 'eager loading', 'keyset pagination', 'tail latency',
              'prepared statements', 'asyncio and threads', 'our ORM', 'database round trips', 'the feed query',
              'foreign key indexes', 'noisy neighbours', 'pool resets', 'JSON serialization', 'read replicas',
              'query plans'] AS topics,
        -- 16 sentences of 73 to 79 characters: a run of 3 to 14 of them makes 221 to 1,119.
        ARRAY['The pool was sized for the load, and the load had other plans that afternoon.',
              'We measured twice, shuffled the order, and the drift still showed up in slices.',
              'An index on the foreign key turned a four second page into a forty ms one.',
              'Lazy loading looked free in the notebook and cost one round trip per author.',
              'The fix was a join; the lesson was to count statements before counting RPS.',
              'Our p99 doubled the day the database moved one availability zone further away.',
              'Every ORM has an escape hatch, and every team finds it in the second month.',
              'Prepared statements saved the parse, and the pool reset spent it right back.',
              'Nobody reads the query plan until the pager goes off at three in the morning.',
              'A benchmark without error bars is an anecdote with a very confident font size.',
              'The event loop was busy serializing JSON while the database sat idle again.',
              'We batched the writes and the lock waits vanished along with two dashboards.',
              'Selectin loading sent two statements where the joined version sent just one.',
              'The cache hit rate was excellent, right up until the deploy cleared it all.',
              'Thread pools hide latency well, and they hide the cost of hiding it too well.',
              'Keyset pagination kept the feed fast long after offsets started to crawl.'] AS sentences
),
-- Every title and body a post can have, made once (256 and 192 of them) and joined by key:
-- building them row by row would cost more than the rest of the seed.
titles AS MATERIALIZED (
    SELECT o, t, w.openings[o + 1] || ' ' || w.topics[t + 1] AS title
    FROM words AS w, generate_series(0, 15) AS o, generate_series(0, 15) AS t
),
bodies AS MATERIALIZED (
    SELECT s, n, array_to_string((w.sentences || w.sentences)[s + 1:s + n], ' ') AS body
    FROM words AS w, generate_series(0, 15) AS s, generate_series(3, 14) AS n
),
authors AS (
    SELECT u.id AS user_id, u.created_at,
           least(600, floor(4 * (power(1 - h.r, -1 / 1.3) - 1)))::int AS n
    FROM users AS u
    CROSS JOIN LATERAL (
        SELECT (('x' || substr(md5('dbbench-posts-' || u.id), 1, 8))::bit(32)::int & 2147483647)
               / 2147483648.0::float8 AS r
    ) AS h
),
drafts AS (
    SELECT a.user_id, k,
           date_trunc('second', a.created_at
               + (timestamptz '2025-01-01 00:00:00+00' - a.created_at) * (h.a / 2147483648.0::float8)) AS created_at,
           h.b, h.c, h.d
    FROM authors AS a
    CROSS JOIN LATERAL generate_series(1, a.n) AS k
    CROSS JOIN LATERAL (
        SELECT
            ('x' || substr(m, 1, 8))::bit(32)::int & 2147483647 AS a,
            ('x' || substr(m, 9, 8))::bit(32)::int & 2147483647 AS b,
            ('x' || substr(m, 17, 8))::bit(32)::int & 2147483647 AS c,
            ('x' || substr(m, 25, 8))::bit(32)::int & 2147483647 AS d
        FROM md5('dbbench-post-' || a.user_id || '-' || k) AS m
    ) AS h
),
-- Ids in created_at order (ties by author, then number), numbered on the narrow rows.
numbered AS MATERIALIZED (
    SELECT row_number() OVER (ORDER BY created_at, user_id, k) AS id, user_id, k, created_at, b, c, d
    FROM drafts
)
INSERT INTO posts (id, user_id, created_at, title, body, likes)
SELECT
    p.id,
    p.user_id,
    p.created_at,
    t.title || ', part ' || p.k,
    b.body,
    floor(exp(mod(p.d / 12, 1000) / 1000.0::float8 * 7))::int - 1
FROM numbered AS p
JOIN titles AS t ON t.o = mod(p.b, 16) AND t.t = mod(p.c, 16)
JOIN bodies AS b ON b.s = mod(p.c, 16) AND b.n = 3 + mod(p.d, 12);
