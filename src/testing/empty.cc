// Keeps the testing library non-empty before any helper exists.
