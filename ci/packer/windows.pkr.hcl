# Example: gate the WIM a Packer build produces with makguard before anything publishes it.
# Documented in docs/ci.md. Only the parts that matter for the gate are shown: the source below
# holds placeholders (enough for `packer validate`, which makguard's tests run); use your own
# (qemu, hyperv-iso, vsphere-iso, …) and the provisioners that install, sysprep and capture the
# image.
#
# The post-processor runs on the Packer host: ci/scripts/wim-gate.sh has makguard read the WIM
# directly (every image, or only var.image_index; no mount, no wimlib, no root) and exits with
# makguard's code, so a WIM that embeds a MAK (exit 1), that makguard could not fully read or
# that is not a WIM at all (exit 3), or a bad policy file (exit 2) fails the build. The reports
# land in var.report_dir.

variable "image_wim" {
  type        = string
  default     = "output/install.wim"
  description = "The WIM the build captures and downloads to the host."
}

variable "image_index" {
  type        = string
  default     = ""
  description = "The image index to scan; empty scans every image in the WIM."
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

variable "iso_url" {
  type        = string
  default     = "iso/windows.iso"
  description = "Placeholder: the Windows installation ISO."
}

variable "iso_checksum" {
  type        = string
  default     = "none"
  description = "Placeholder: the ISO's checksum (e.g. sha256:…); \"none\" skips the check."
}

variable "winrm_password" {
  type        = string
  default     = "placeholder"
  sensitive   = true
  description = "Placeholder: the build account's password, set by your answer file."
}

# Placeholder source: replace with your own builder's settings. Packer 1.6 has the qemu builder
# built in; from Packer 1.7 on, declare the plugin and run `packer init` first:
#   packer { required_plugins { qemu = { source = "github.com/hashicorp/qemu", version = ">= 1.0.0" } } }
source "qemu" "windows" {
  iso_url          = var.iso_url
  iso_checksum     = var.iso_checksum
  output_directory = "output/qemu"
  disk_size        = "40960"
  memory           = 4096
  communicator     = "winrm"
  winrm_username   = "packer"
  winrm_password   = var.winrm_password
  winrm_timeout    = "2h"
  shutdown_command = "shutdown /s /t 10 /f"
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
