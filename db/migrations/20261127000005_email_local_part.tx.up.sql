-- Searching the log for a whole or partial email address ("ann@exa",
-- "ann.lee@example.com") finds the customers whose email contains it. When
-- the text holds an @, a matching email's local part ends with the text's
-- local part: this index of reversed local parts finds those by prefix,
-- which is much cheaper than intersecting the trigrams of a long address.
CREATE INDEX customers_email_local_rev_idx ON customers (reverse(split_part(email, '@', 1)) text_pattern_ops);
