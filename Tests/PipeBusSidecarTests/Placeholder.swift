// Sidecar tests live in subfolders by area.
