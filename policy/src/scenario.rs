//! Policy scenario files: a world, then requests with expected decisions.
