#![doc = include_str!("../README.md")]

pub mod compare;
pub mod driver;
pub mod duration;
pub mod html;
pub mod mix;
pub mod procstat;
pub mod report;
pub mod rng;
pub mod schedule;
pub mod upstream;
