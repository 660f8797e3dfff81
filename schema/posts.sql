-- Each user's posts: the 1:N and N:1 reads (a user's latest posts, the feed with authors).
-- The CHECKs hold the seed to the lengths the contract promises. Its keys and index are in
-- keys.sql, added once the rows are in.
CREATE TABLE posts (
    id         integer     NOT NULL,
    user_id    integer     NOT NULL,
    created_at timestamptz NOT NULL,
    title      text        NOT NULL CHECK (char_length(title) BETWEEN 20 AND 80),
    body       text        NOT NULL CHECK (char_length(body) BETWEEN 200 AND 1200),
    likes      integer     NOT NULL CHECK (likes >= 0)
);
