//! Reports from results: text tables for the terminal, Markdown with SVG
//! plots, CSV. Pure functions of [`ResultsFile`](super::results::ResultsFile)
//! and the result types; writing files is the caller's.
//!
//! | module | concern |
//! |---|---|
//! | [`text`] | tables (plain and Markdown) and verdict sentences |
//! | [`markdown`] | the Markdown report and the plots it links |
//! | [`svg`] | throughput against delay; ranked bars of criticality |
//! | [`csv`] | one row per measured setting |

pub mod csv;
pub mod markdown;
pub mod svg;
pub mod text;
