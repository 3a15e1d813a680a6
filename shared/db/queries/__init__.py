"""Named SQL by area. Every function takes the connection first, so the caller owns the transaction."""
