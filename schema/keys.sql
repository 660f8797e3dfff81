-- Keys and indexes of the seeded tables, added after the seed: PostgreSQL then builds each
-- once, in one sort, instead of keeping it up row by row (a million posts: seconds, not tens).
ALTER TABLE posts
    ADD PRIMARY KEY (id),
    ADD FOREIGN KEY (user_id) REFERENCES users (id);
-- A real posts table is appended in created_at order, which is id order here: its rows are
-- stored in that order, so a feed page reads a few adjacent pages, not twenty scattered ones.
CLUSTER posts USING posts_pkey;
-- A user's latest posts, newest first by (created_at, id), and their count: one index range
-- scan. The feed (id < before, newest id first) walks the primary key backwards.
CREATE INDEX posts_user_latest ON posts (user_id, created_at DESC, id DESC);
