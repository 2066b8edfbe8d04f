#[allow(dead_code)] // parts of the API serve spec loading and the copy runner
mod security;

fn main() {}
