"""Use-cases: embed, compare, search. Plain typed objects in and out; no HTTP here."""
