-- The trace of the last event applied to each account: an operator follows a request from its
-- HTTP call to the row it changed (guides/operating.md, "Following a trace").
ALTER TABLE bank_accounts ADD COLUMN trace_id TEXT;
