//! A plain, slow evaluator written straight from the decision flow: the oracle for property tests.
