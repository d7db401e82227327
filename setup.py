"""The prompt files ship inside the package: ``prompts/*.md`` (their one source, at the repository root)
is copied to ``tickets_mcp/prompts/`` in every build, so an installed wheel (``uv tool install``, ``pipx``,
``uvx``) finds them next to its own code, from any working directory. Everything else is in pyproject.toml;
MANIFEST.in puts ``prompts/`` into the sdist, so a wheel built from the sdist has them too."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PROMPTS = Path(__file__).resolve().parent / "prompts"


class BuildWithPrompts(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "tickets_mcp" / "prompts"
        self.mkpath(str(target))
        for source in sorted(PROMPTS.glob("*.md")):
            self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildWithPrompts})
