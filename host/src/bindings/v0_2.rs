//! `lava:connector@0.2.0`, the latest contract (`wit/v0.2.0`). The host's
//! capabilities implement these traits directly (`capabilities.rs`).

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.2.0",
    // A host function may end the whole call (a spent capability budget, the
    // wall-clock limit), which a plugin cannot catch and carry on after.
    imports: { default: trappable },
});
