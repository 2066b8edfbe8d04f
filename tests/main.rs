//! The one integration-test binary: black-box tests of `convoy`.
mod postgres;
mod support;
