-- Deterministic users: every value is a function of the row number, through md5,
-- so the same user count gives the same rows (and checksum) on any machine.
-- Set-based: one INSERT ... SELECT, no row-by-row round trips.
WITH words AS (
    SELECT
        ARRAY['Ada', 'Alan', 'Barbara', 'Brian', 'Claude', 'Dennis', 'Donald', 'Edsger',
              'Frances', 'Grace', 'Guido', 'Hedy', 'Ivan', 'John', 'Joan', 'Ken',
              'Leslie', 'Linus', 'Margaret', 'Niklaus', 'Radia', 'Rob', 'Sophie', 'Tim',
              'Zoë', 'José', 'Łukasz', 'Øyvind', 'Amélie', 'Chloé', 'Renée', 'Jürgen'] AS first_names,
        ARRAY['ada', 'alan', 'barbara', 'brian', 'claude', 'dennis', 'donald', 'edsger',
              'frances', 'grace', 'guido', 'hedy', 'ivan', 'john', 'joan', 'ken',
              'leslie', 'linus', 'margaret', 'niklaus', 'radia', 'rob', 'sophie', 'tim',
              'zoe', 'jose', 'lukasz', 'oyvind', 'amelie', 'chloe', 'renee', 'jurgen'] AS slugs,
        ARRAY['Lovelace', 'Turing', 'Liskov', 'Kernighan', 'Shannon', 'Ritchie', 'Knuth',
              'Dijkstra', 'Allen', 'Hopper', 'van Rossum', 'Lamarr', 'Sutherland',
              'McCarthy', 'Clarke', 'Thompson', 'Lamport', 'Torvalds', 'Hamilton', 'Wirth',
              'Perlman', 'Pike', 'Wilson', 'Berners-Lee', 'O''Neil', 'García', 'Müller',
              'Nguyễn', 'Kowalski', 'Søndergaard', 'Dubois', 'Schmidt'] AS last_names,
        ARRAY['example.com', 'example.org', 'example.net', 'mail.example.com',
              'users.example.org', 'corp.example.net', 'dev.example.com', 'lab.example.org'] AS domains,
        ARRAY['Writes software for a living and reads papers about it for fun, mostly on trains.',
              'Maintains a small open-source library that is used by far more people than expected.',
              'Has strong opinions about connection pools and weaker ones about tabs versus spaces.',
              'Spent the last decade moving monoliths to services and some of them back again.',
              'Believes every benchmark should come with its error bars and its raw data attached.',
              'Teaches an evening class on databases and still learns something new every week.',
              'Runs on coffee, tea and the occasional well-placed index on a foreign key column.',
              'Once debugged a race condition for three days; it was a missing await all along.',
              'Enjoys hiking, film photography and reading query plans out loud to the cat.',
              'Collects vintage keyboards and writes about the history of programming languages.',
              'Works on the platform team, where the pager is loud and the coffee is strong.',
              'Contributes documentation fixes to anything that has a typo and a public repository.',
              'Prefers boring technology, small pull requests and tests that fail for good reasons.',
              'Builds data pipelines by day and bakes sourdough bread on the weekends, badly.',
              'Thinks the tail latency is the only latency users ever really remember at all.',
              'Started programming on a graphing calculator and never quite stopped since then.'] AS sentences
)
INSERT INTO users (id, username, email, full_name, bio, is_active, created_at)
SELECT
    g,
    w.slugs[1 + mod(h.a, 32)] || '_' || g,
    w.slugs[1 + mod(h.a, 32)] || '.' || g || '@' || w.domains[1 + mod(h.d, 8)],
    w.first_names[1 + mod(h.a, 32)] || ' ' || w.last_names[1 + mod(h.b, 32)],
    w.sentences[1 + mod(h.b, 16)] || ' ' || w.sentences[1 + mod(h.c, 16)] || ' '
        || w.sentences[1 + mod(h.d, 16)]
        || CASE WHEN mod(h.c, 2) = 0 THEN ' ' || w.sentences[1 + mod(h.a # h.d, 16)] ELSE '' END,
    mod(h.d, 10) <> 0,
    timestamptz '2015-01-01 00:00:00+00' + make_interval(secs => mod(h.c, (9 * 365 * 86400)))
FROM generate_series(1, %(users)s) AS g
CROSS JOIN words AS w
CROSS JOIN LATERAL (
    SELECT
        ('x' || substr(m, 1, 8))::bit(32)::int & 2147483647 AS a,
        ('x' || substr(m, 9, 8))::bit(32)::int & 2147483647 AS b,
        ('x' || substr(m, 17, 8))::bit(32)::int & 2147483647 AS c,
        ('x' || substr(m, 25, 8))::bit(32)::int & 2147483647 AS d
    FROM md5('dbbench-user-' || g) AS m
) AS h;
