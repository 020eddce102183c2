//! Host-side bindings generated from `wit/`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
});
