# One addon, compiled against the BLAS detect-blas.cjs finds (OpenBLAS on Linux, Accelerate on
# macOS) or, where there is none (Windows, a Linux without OpenBLAS's headers), as a stub that
# only says so: then a rebuild (npm rebuild, electron-builder's) still succeeds.
{
  'variables': {
    'blas%': '<!(node detect-blas.cjs kind)',
  },
  'targets': [
    {
      'target_name': 'sublab_blas',
      'sources': ['src/sgemm.c', 'src/lm-kernels.c'],
      # -O3 vectorises the LM kernels' inner loops (-fno-trapping-math lets it turn their clamps into
      # selects, -fno-math-errno lets sqrtf be one instruction; no value changes); no contraction into
      # FMA, so every build of the source rounds alike.
      'cflags': ['-O3', '-std=c99', '-ffp-contract=off', '-fno-trapping-math', '-fno-math-errno'],
      'xcode_settings': { 'OTHER_CFLAGS': ['-O3', '-ffp-contract=off', '-fno-trapping-math', '-fno-math-errno'] },
      'conditions': [
        ['blas=="openblas"', {
          'defines': ['SUBLAB_OPENBLAS'],
          'include_dirs': ['<!@(node detect-blas.cjs include)'],
          'libraries': ['<!@(node detect-blas.cjs libs)'],
        }],
        ['blas=="accelerate"', {
          'defines': ['SUBLAB_ACCELERATE', 'ACCELERATE_NEW_LAPACK'],
          'link_settings': { 'libraries': ['$(SDKROOT)/System/Library/Frameworks/Accelerate.framework'] },
        }],
      ],
    },
  ],
}
