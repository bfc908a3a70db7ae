"""The generator behind ``copier copy``: it turns a copy of this repository into a service
of the user's own (docs/generate.md).

Copier renders the few ``*.jinja`` files (``.env``, the answers file) and leaves out the
files of the features the answers turned off (``copier.yml``); then it runs this package
in the new project, for the edits a template cannot make without breaking this
repository: cutting marked lines (``features``), the project's names (``project``), the
development realm of the bundled Keycloak (``realm``). It needs only the standard
library: it runs under the Python that runs copier.
"""
