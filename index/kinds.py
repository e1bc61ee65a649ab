"""What kind of file a path is (source, tests, docs, CI, build/packaging, vendored, binary, other)."""

from __future__ import annotations

import re
from functools import lru_cache

from forkwise.index.models import FileKind

VENDORED_DIRS = {
    "vendor",
    "vendored",
    "third_party",
    "third-party",
    "thirdparty",
    "external",
    "deps",
    "node_modules",
}
TEST_DIRS = {"test", "tests", "testing", "spec", "specs", "__tests__", "unittests"}
DOC_DIRS = {"doc", "docs", "documentation", "man"}
CI_FILES = {
    ".gitlab-ci.yml",
    ".travis.yml",
    "azure-pipelines.yml",
    "jenkinsfile",
    ".appveyor.yml",
    "appveyor.yml",
    ".pre-commit-config.yaml",
    "codecov.yml",
    ".codecov.yml",
    "bitbucket-pipelines.yml",
}
CI_DIRS = {".github", ".circleci", ".gitlab", ".buildkite", ".azure-pipelines"}
BUILD_FILES = {
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "makefile",
    "cmakelists.txt",
    "dockerfile",
    "package.json",
    "cargo.toml",
    "go.mod",
    "go.sum",
    "manifest.in",
    "tox.ini",
    "noxfile.py",
    "meson.build",
    "build.gradle",
    "pom.xml",
    "gemfile",
    "environment.yml",
    "poetry.lock",
    "uv.lock",
    "cargo.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "build.sh",
    "configure",
    "bazel",
    "workspace",
    "build.bazel",
    "version.txt",
    "version",
}
DOC_EXT = {".md", ".rst", ".txt", ".adoc", ".org"}
DOC_NAMES = re.compile(
    r"^(readme|changelog|changes|history|contributing|authors|notice|license|licence|copying|"
    r"code_of_conduct|security|news|citation)(\..*)?$",
    re.I,
)
BINARY_EXT = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".ico",
    ".pdf",
    ".zip",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".7z",
    ".tar",
    ".so",
    ".dll",
    ".dylib",
    ".a",
    ".o",
    ".exe",
    ".bin",
    ".pt",
    ".pth",
    ".onnx",
    ".safetensors",
    ".gguf",
    ".whl",
    ".jar",
    ".class",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".mp4",
    ".mp3",
    ".wav",
    ".npy",
    ".npz",
    ".pkl",
    ".h5",
    ".parquet",
    ".db",
    ".sqlite",
    ".webp",
    ".svgz",
}
SOURCE_EXT = {
    ".py",
    ".pyx",
    ".pyi",
    ".c",
    ".cc",
    ".cpp",
    ".cxx",
    ".h",
    ".hh",
    ".hpp",
    ".cu",
    ".cuh",
    ".js",
    ".jsx",
    ".ts",
    ".tsx",
    ".mjs",
    ".go",
    ".rs",
    ".java",
    ".kt",
    ".scala",
    ".rb",
    ".php",
    ".cs",
    ".swift",
    ".m",
    ".mm",
    ".sh",
    ".bash",
    ".pl",
    ".lua",
    ".r",
    ".jl",
    ".zig",
    ".hs",
    ".ml",
    ".ex",
    ".exs",
    ".erl",
    ".clj",
    ".dart",
    ".vue",
    ".svelte",
    ".sql",
    ".css",
    ".scss",
    ".html",
    ".proto",
    ".yaml",
    ".yml",
    ".json",
    ".toml",
    ".ini",
    ".cfg",
    ".cmake",
    ".s",
    ".asm",
    ".f90",
    ".ipynb",
}


def top_folder(path: str) -> str:
    """The first folder of a git path ("/"-separated, as git writes them), or "." for a file at the root."""
    head, sep, _rest = path.partition("/")
    return head if sep else "."


@lru_cache(maxsize=65536)
def file_kind(path: str, binary: bool = False) -> FileKind:
    """Classify a repository path. Order matters: vendored, binary, CI, tests, build, docs, source."""
    parts = path.split("/")
    dirs = {d.lower() for d in parts[:-1]}
    name = parts[-1].lower()
    dot = name.rfind(".")
    ext = name[dot:] if 0 < dot < len(name) - 1 else ""
    if dirs & VENDORED_DIRS:
        return "vendored"
    if binary or ext in BINARY_EXT:
        return "binary"
    if name in CI_FILES or parts[0].lower() in CI_DIRS:
        return "ci"
    if dirs & TEST_DIRS or re.match(r"^(test_.*|.*_test|.*\.test|.*_spec|.*\.spec|conftest)\.[a-z]+$", name):
        return "tests"
    if name in BUILD_FILES or re.match(r"^requirements.*\.(txt|in)$", name) or ext in {".spec", ".bzl"}:
        return "build"
    if dirs & DOC_DIRS or ext in DOC_EXT or DOC_NAMES.match(name):
        return "docs"
    if ext in SOURCE_EXT:
        return "source"
    return "other"


SCRIPT_MAX_BYTES = 1_000_000
"""Extensionless files larger than this are never read for a ``#!`` line (a script is small)."""


def may_be_script(path: str) -> bool:
    """An extensionless file outside the folders that decide a kind by themselves (``git-flow-feature``,
    ``bin/run``): :func:`file_kind` calls it "other", and only its first line can say it is a script."""
    name = path.rsplit("/", 1)[-1]
    return "." not in name.lstrip(".") and not name.startswith(".") and file_kind(path) == "other"


def script_kind(data: bytes) -> FileKind | None:
    """``source`` for a file that starts with an interpreter line (``#!/bin/sh``), else None."""
    return "source" if data.startswith(b"#!") else None
