"""How the installed dlib was built, and whether that build suits this processor.

dlib decides at compile time which vector instructions its HOG detector and face encoder use.
A build without them runs, but an order of magnitude slower: on a Raspberry Pi (arm64) the face
encoder takes about 3 s per face without NEON and 0.25 s with it. The build reports its choices
as module constants; `kiosk doctor`, `kiosk bench --stages` and the Pi check print them.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

ARM = ("aarch64", "arm64", "armv7l", "armv8l")
X86 = ("x86_64", "amd64", "i686")


@dataclass(frozen=True)
class DlibBuild:
    """The instruction sets and libraries dlib was compiled with, on this machine's processor."""
    version: str
    machine: str  # platform.machine(): x86_64, aarch64, ...
    avx: bool
    neon: bool
    blas: bool
    lapack: bool
    cuda: bool

    def flags(self) -> str:
        """ "AVX on, NEON off, BLAS off, LAPACK off, CUDA off" """
        parts = {"AVX": self.avx, "NEON": self.neon, "BLAS": self.blas, "LAPACK": self.lapack, "CUDA": self.cuda}
        return ", ".join(f"{name} {'on' if value else 'off'}" for name, value in parts.items())

    @property
    def warning(self) -> str:
        """Why this build is slow on this processor, or "" when it uses the vector unit it has."""
        machine = self.machine.lower()
        if machine in ARM and not self.neon:
            return (f"dlib {self.version} on {self.machine} was built without NEON: each face encoding takes "
                    "about ten times longer (seconds on a Pi); install the aarch64 dlib-bin wheel, or build "
                    "dlib with -DUSE_NEON_INSTRUCTIONS=ON")
        if machine in X86 and not self.avx:
            return (f"dlib {self.version} on {self.machine} was built without AVX: detection and encoding "
                    "run several times slower; install a dlib built with -DUSE_AVX_INSTRUCTIONS=ON")
        return ""

    def as_dict(self) -> dict:
        return {"version": self.version, "machine": self.machine, "avx": self.avx, "neon": self.neon,
                "blas": self.blas, "lapack": self.lapack, "cuda": self.cuda, "warning": self.warning}


def dlib_build() -> DlibBuild:
    """The running dlib's build, read from the constants its module exports."""
    import dlib  # late on purpose: doctor asks for this after checking that dlib imports at all

    def flag(name: str) -> bool:
        return bool(getattr(dlib, name, False))

    return DlibBuild(getattr(dlib, "__version__", "?"), platform.machine(), flag("USE_AVX_INSTRUCTIONS"),
                     flag("USE_NEON_INSTRUCTIONS"), flag("DLIB_USE_BLAS"), flag("DLIB_USE_LAPACK"),
                     flag("DLIB_USE_CUDA"))
