-- Each Postgres-backed service owns its own database.
CREATE DATABASE conference;
CREATE DATABASE pay;
