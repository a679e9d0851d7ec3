#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reqflo_fuzz_checks::jwt::check(data));
