"""The web dashboard: pages in a browser, sign-in codes and links, its spend and series views."""
