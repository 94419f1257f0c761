//! Rebuilds glint when a file of the embedded web client is added or changed (rust-embed
//! tracks the files it saw, not new ones).
fn main() {
    println!("cargo:rerun-if-changed=../web-client/index.html");
    println!("cargo:rerun-if-changed=../web-client/src");
}
