//! Reports from results: text tables for the terminal, Markdown with SVG
//! plots, CSV; the live run's status lines. Pure functions of [`ResultsFile`](crate::experiment::results::ResultsFile)
//! and the result types; writing files is the caller's.
//!
//! | module | concern |
//! |---|---|
//! | [`text`] | tables (plain and Markdown) and verdict sentences |
//! | [`markdown`] | the Markdown report and the plots it links |
//! | [`svg`] | throughput against delay; ranked bars of criticality |
//! | [`csv`] | one row per measured setting |
//! | [`live`] | status lines and summary tables of `speedbump run` |

pub mod csv;
pub(crate) mod live;
pub mod markdown;
pub mod svg;
pub mod text;
