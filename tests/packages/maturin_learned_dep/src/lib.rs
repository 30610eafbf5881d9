/// A marker string; tests edit "v1" to check that a change here reaches the wheel.
pub fn value() -> &'static str {
    "dep v1"
}
