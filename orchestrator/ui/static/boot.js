// Starts the dashboard once every script is loaded (a file, not an inline script: the CSP forbids those).
Spotwise.start();
