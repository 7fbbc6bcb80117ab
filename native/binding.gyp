{
  "targets": [
    {
      "target_name": "zonetap_native",
      "sources": ["src/addon.cc", "src/errors.cc", "src/links.cc", "src/drain.cc", "src/records.cc", "src/options.cc", "src/flow_table.cc", "src/program.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "../bpf", "generated"],
      "libraries": ["-lbpf"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=9"]
    }
  ]
}
