//! strata: typed stack definitions for AWS.
//!
//! Data flows one way: environment files and stack definitions ([`config`], [`definition`]) ->
//! typed components ([`stacks`]) -> CloudFormation templates ([`model`], [`render`]) ->
//! ordered stacks ([`graph`], [`project`]) -> commands ([`cli`]).

pub mod apply;
pub mod aws;
pub mod catalog;
pub mod cidr;
pub mod cli;
pub mod config;
pub mod cost;
pub mod definition;
pub mod destroy;
pub mod diagnostic;
pub mod diagram;
pub mod diff;
mod dir;
pub mod drift;
pub mod error;
pub mod exit;
pub mod graph;
pub mod log_retention;
pub mod managed;
pub mod model;
pub mod naming;
pub mod outputs;
pub mod package;
mod parallel;
pub mod plan;
pub mod policy;
pub mod preflight;
pub mod project;
pub mod render;
pub mod report;
pub mod stacks;
pub mod watch;
mod yaml;

pub use error::{Error, Result};
