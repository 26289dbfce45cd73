{
  # The kernels are split by instruction set: the AVX-512 and AVX2 translation units are
  # static libraries compiled with their own -m flags, everything else with the baseline
  # target, and binding.cc picks a path at run time with cpuid (IRLLREC_ISA can force one).
  'target_defaults': {
    'defines': [ 'NAPI_DISABLE_CPP_EXCEPTIONS', 'NAPI_VERSION=8' ],
    'include_dirs': [ "<!(node -p \"require('node-addon-api').include_dir\")" ],
    'cflags!': [ '-fno-exceptions' ],
    'cflags_cc!': [ '-std=gnu++17', '-std=gnu++20', '-fno-exceptions' ],
    'cflags': [ '-O3', '-fPIC', '-fno-math-errno', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-psabi' ],
    # C++ exceptions stay enabled for the standard library (thread creation failures are
    # caught); the binding itself uses node-addon-api without exceptions.
    'cflags_cc': [ '-std=c++17' ],
    'xcode_settings': {
      'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
      'OTHER_CFLAGS': [ '-O3', '-fno-math-errno' ],
    },
  },
  'targets': [
    {
      'target_name': 'irllrec_kernels',
      'sources': [ 'native/binding.cc', 'native/pool.cc', 'native/train_kernels.cc', 'native/isa_scalar.cc' ],
      'conditions': [
        [ 'target_arch=="x64" or target_arch=="ia32"', {
          'dependencies': [ 'irllrec_kernels_avx512', 'irllrec_kernels_avx2' ],
        } ],
      ],
    },
    {
      'target_name': 'irllrec_kernels_avx512',
      'type': 'static_library',
      'sources': [ 'native/isa_avx512.cc' ],
      'cflags': [ '-mavx512f', '-mavx512dq', '-mavx512bw', '-mavx512vl', '-mfma' ],
      'xcode_settings': {
        'OTHER_CFLAGS': [ '-mavx512f', '-mavx512dq', '-mavx512bw', '-mavx512vl', '-mfma' ],
      },
    },
    {
      'target_name': 'irllrec_kernels_avx2',
      'type': 'static_library',
      'sources': [ 'native/isa_avx2.cc' ],
      'cflags': [ '-mavx2', '-mfma' ],
      'xcode_settings': { 'OTHER_CFLAGS': [ '-mavx2', '-mfma' ] },
    },
  ],
}
