"""``python -m i2i`` (and ``torchrun -m i2i run ...``) runs the CLI."""

from i2i.cli.main import main

if __name__ == "__main__":
    main()
