#!/usr/bin/env python3
"""Checks that PyTorch can use the GPU inside the runtime image.

Usage:
    python3 test_gpu.py [--require-gpu]

Where no NVIDIA GPU is visible (no /dev/nvidia0, or run without `--gpus`), it says so and exits 0 (skipped),
unless --require-gpu is given: then a missing GPU is a failure (use it on GPU runners, where skipping would
hide a runner without the NVIDIA runtime). Where a GPU is visible: torch must be importable, report CUDA
available, multiply two matrices on the GPU to the same result as on the CPU, and run a convolution (cuDNN).
Exits 1 on any failure.
"""

import glob
import os
import sys


def gpu_visible():
    """Whether the container was given an NVIDIA GPU (the device nodes the NVIDIA runtime adds)."""
    if glob.glob("/dev/nvidia[0-9]*"):
        return True
    gpus = "/proc/driver/nvidia/gpus"
    return os.path.isdir(gpus) and bool(os.listdir(gpus))


def fail(message):
    print("FAIL: %s" % message)
    return 1


def main(argv):
    require = "--require-gpu" in argv
    unknown = [a for a in argv if a != "--require-gpu"]
    if unknown:
        print("usage: test_gpu.py [--require-gpu]", file=sys.stderr)
        return 2
    if not gpu_visible():
        if require:
            return fail(
                "no NVIDIA GPU is visible in this container (no /dev/nvidia0): run it with --gpus all on a "
                "host with the NVIDIA Container Toolkit"
            )
        print("SKIP: no NVIDIA GPU is visible in this container; nothing to test (pass --require-gpu to fail)")
        return 0

    try:
        import torch
    except ImportError as error:
        return fail("a GPU is visible but PyTorch cannot be imported: %s" % error)

    print("torch %s, built for CUDA %s" % (torch.__version__, torch.version.cuda))
    if torch.version.cuda is None:
        return fail("this PyTorch is a CPU-only build; the GPU image needs the CUDA build (pytorch-gpu)")
    if not torch.cuda.is_available():
        return fail(
            "a GPU is visible but torch.cuda.is_available() is False: the host driver may be older than "
            "CUDA %s needs" % torch.version.cuda
        )
    count = torch.cuda.device_count()
    for i in range(count):
        print("cuda:%d %s" % (i, torch.cuda.get_device_name(i)))

    torch.manual_seed(0)
    a = torch.randn(256, 256, dtype=torch.float64)
    b = torch.randn(256, 256, dtype=torch.float64)
    on_gpu = (a.cuda() @ b.cuda()).cpu()
    on_cpu = a @ b
    if not torch.allclose(on_gpu, on_cpu, rtol=1e-9, atol=1e-9):
        return fail("a matrix product on the GPU differs from the CPU's")
    print("matmul on cuda:0 matches the CPU")

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    if cudnn is None:
        return fail("cuDNN is not available to PyTorch")
    image = torch.randn(1, 3, 32, 32, device="cuda")
    conv = torch.nn.Conv2d(3, 8, kernel_size=3).cuda()
    out = conv(image)
    torch.cuda.synchronize()
    if tuple(out.shape) != (1, 8, 30, 30) or not torch.isfinite(out).all():
        return fail("a convolution on the GPU gave a wrong result")
    print("conv2d on cuda:0 with cuDNN %s works" % cudnn)
    print("GPU OK: %d device(s)" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
