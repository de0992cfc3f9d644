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
      'sources': ['src/sgemm.c'],
      'cflags': ['-O2', '-std=c99'],
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
