# Example: gate the WIM a Packer build produces with makguard before anything publishes it.
# Documented in docs/ci.md. Only the parts that matter for the gate are shown: add your own
# source (qemu, hyperv-iso, vsphere-iso, …) and the provisioners that install, sysprep and
# capture the image.
#
# The post-processor runs on the Packer host (Linux): ci/scripts/wim-gate.sh mounts the WIM
# read-only with wimlib-imagex, scans it, always unmounts, and exits with makguard's code, so a
# WIM that embeds a MAK (exit 1), that makguard could not fully read (exit 3), or a bad policy
# file (exit 2) fails the build. The reports land in var.report_dir.

variable "image_wim" {
  type        = string
  default     = "output/install.wim"
  description = "The WIM the build captures and downloads to the host."
}

variable "image_index" {
  type    = number
  default = 1
}

variable "makguard" {
  type        = string
  default     = "makguard"
  description = "The makguard binary on the Packer host."
}

variable "report_dir" {
  type    = string
  default = "output/makguard"
}

build {
  sources = ["source.qemu.windows"]

  # … provisioners that install and sysprep Windows and capture C:\capture\install.wim
  # (DISM /Capture-Image from WinPE, or your capture tooling) …

  provisioner "file" {
    direction   = "download"
    source      = "C:/capture/install.wim"
    destination = var.image_wim
  }

  post-processor "shell-local" {
    environment_vars = [
      "MAKGUARD=${var.makguard}",
      "MAKGUARD_OUT=${var.report_dir}",
      "MAKGUARD_ARGS=--fail-on error",
    ]
    inline = ["ci/scripts/wim-gate.sh ${var.image_wim} ${var.image_index}"]
  }
}
