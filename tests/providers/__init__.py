"""The cloud adapters, one folder per cloud on its emulator (moto, fake GCE and Azure servers), and GPU names."""
