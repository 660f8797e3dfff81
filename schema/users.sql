-- The one table every service reads.
CREATE TABLE users (
    id         integer     PRIMARY KEY,
    username   text        NOT NULL UNIQUE,
    email      text        NOT NULL,
    full_name  text        NOT NULL,
    bio        text        NOT NULL,
    is_active  boolean     NOT NULL,
    created_at timestamptz NOT NULL
);
