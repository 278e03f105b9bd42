<#
.SYNOPSIS
    Pre-capture check of a Windows image with makguard: scans the WIM file directly (or, with
    -Fix, mounts it, fixes it, and saves it only when the fixed image scans clean).

.DESCRIPTION
    For imaging staff on a Windows admin workstation.

    Without -Fix: runs `makguard.exe scan` on the .wim file itself. makguard reads the WIM
    directly: every image in it (or only -Index), with nothing mounted, no DISM and no
    elevation. Nothing in the image changes.

    With -Fix (run elevated: mounting needs it): mounts image -Index (default 1) read-write
    with Mount-WindowsImage, runs `makguard fix` (each embedded MAK is rewritten to the GVLK for
    the image's edition, changing only the key's bytes), then scans the mounted result again.
    The image is dismounted with -Save only when the fix succeeded AND the scan after it is
    clean; otherwise every change is discarded and the image stays as it was. The image is
    always dismounted, also when makguard fails or the script is interrupted.

    Reports (JSON, SARIF, JUnit, Markdown) are written to -ReportDirectory.

    Exit code: makguard's (0 clean, 1 findings, 2 usage or configuration error, 3 the scan was
    incomplete). This script also exits 2 for a bad argument and 3 when the file is not a WIM
    or (with -Fix) the image could not be mounted.

.PARAMETER ImagePath
    The .wim file.
.PARAMETER Index
    The image index inside the WIM (see Get-WindowsImage -ImagePath). Without -Fix, default:
    every image. With -Fix, default 1.
.PARAMETER MountPath
    With -Fix: an empty folder to mount into. Default: a new folder under $env:TEMP, removed
    afterwards.
.PARAMETER Fix
    Rewrite embedded MAKs to the right GVLK and save the image if it then scans clean.
.PARAMETER MakGuard
    Path of makguard.exe. Default: makguard.exe on PATH.
.PARAMETER ReportDirectory
    Where to write makguard.json, makguard.sarif, makguard.xml (JUnit) and makguard.md.
    Default: the current directory.
.PARAMETER Config
    Policy file (makguard.toml). Default: the nearest makguard.toml walking up from the WIM
    (or, with -Fix, from the mounted image), then the working directory, or MAKGUARD_CONFIG.
.PARAMETER Deep
    Also search every binary file for keys.
.PARAMETER Edition
    For -Fix: the image's EditionID, when makguard cannot read it from the image.

.EXAMPLE
    .\Invoke-MakGuard.ps1 -ImagePath D:\images\install.wim

.EXAMPLE
    .\Invoke-MakGuard.ps1 -ImagePath D:\images\install.wim -Index 3

.EXAMPLE
    .\Invoke-MakGuard.ps1 -ImagePath D:\images\install.wim -Index 3 -Fix -ReportDirectory D:\reports
#>
#Requires -Version 5.1
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string] $ImagePath,

    [ValidateRange(1, 1000)]
    [int] $Index = 1,

    [string] $MountPath,

    [switch] $Fix,

    [string] $MakGuard = 'makguard.exe',

    [string] $ReportDirectory = (Get-Location).Path,

    [string] $Config,

    [switch] $Deep,

    [string] $Edition
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# Runs makguard.exe and returns its exit code. Windows PowerShell 5.1 turns a native program's
# standard error into ErrorRecords when it is redirected (and in the ISE and remoting), which
# $ErrorActionPreference = 'Stop' makes terminating: makguard's diagnostics would abort the
# script and skip the dismount. So the call runs with 'Continue', and stderr lines are written
# back to the host's error stream as plain text.
function Invoke-MakGuardExe {
    param([string[]] $Arguments)
    $previous = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        & $makguardExe @Arguments 2>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) {
                [Console]::Error.WriteLine($_.Exception.Message)
            } else {
                Write-Output $_
            }
        } | Out-Host
        return $LASTEXITCODE
    } finally {
        $ErrorActionPreference = $previous
    }
}

function Write-Outcome([int] $Code, [string] $What) {
    switch ($Code) {
        0 { Write-Host "makguard: $What is clean." -ForegroundColor Green }
        1 { Write-Host "makguard: $What holds product keys that must not ship (see the report above)." -ForegroundColor Red }
        2 { Write-Host 'makguard: usage or configuration error (see the message above).' -ForegroundColor Red }
        3 { Write-Host "makguard: the scan of $What was incomplete: it is not known to be clean." -ForegroundColor Red }
        default { Write-Host "makguard: exited with unexpected code $Code." -ForegroundColor Red }
    }
}

# True when the file starts with the WIM magic. makguard scans a file without it as an
# ordinary file, which an empty or mis-copied install.wim would pass: this script is for images.
function Test-WimMagic([string] $Path) {
    $stream = [System.IO.File]::OpenRead($Path)
    try {
        $head = New-Object byte[] 8
        $read = $stream.Read($head, 0, 8)
        return ($read -eq 8) -and ([System.Text.Encoding]::ASCII.GetString($head) -eq "MSWIM`0`0`0")
    } finally {
        $stream.Dispose()
    }
}

function Test-Elevated {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    return ([Security.Principal.WindowsPrincipal] $identity).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

# Checks that need no mount come first, so a typo never leaves a mounted image behind.
if (-not (Test-Path -LiteralPath $ImagePath -PathType Leaf)) {
    Write-Host "makguard: $ImagePath is not a file." -ForegroundColor Red
    exit 2
}
$ImagePath = (Resolve-Path -LiteralPath $ImagePath).Path
if (-not (Test-WimMagic $ImagePath)) {
    Write-Host "makguard: $ImagePath is not a WIM file (no MSWIM magic): the image was not scanned." -ForegroundColor Red
    exit 3
}
if ($Fix -and -not (Test-Elevated)) {
    Write-Host 'makguard: -Fix mounts the image with DISM: run PowerShell as administrator.' -ForegroundColor Red
    exit 2
}
if ($MountPath -and -not $Fix) {
    Write-Host 'makguard: -MountPath is only used with -Fix: a scan reads the WIM directly.' -ForegroundColor Red
    exit 2
}
$makguardCommand = Get-Command -Name $MakGuard -CommandType Application -ErrorAction SilentlyContinue
if (-not $makguardCommand) {
    Write-Host "makguard: $MakGuard not found; pass -MakGuard C:\path\to\makguard.exe." -ForegroundColor Red
    exit 2
}
$makguardExe = @($makguardCommand)[0].Source
if (-not (Test-Path -LiteralPath $ReportDirectory)) {
    New-Item -ItemType Directory -Path $ReportDirectory | Out-Null
}
$ReportDirectory = (Resolve-Path -LiteralPath $ReportDirectory).Path

$commonArgs = @('--no-progress')
if ($Config) { $commonArgs += @('--config', $Config) }
if ($Deep) { $commonArgs += '--deep' }
$reportArgs = @(
    '--format', 'text',
    '--format', "json=$(Join-Path $ReportDirectory 'makguard.json')",
    '--format', "sarif=$(Join-Path $ReportDirectory 'makguard.sarif')",
    '--format', "junit=$(Join-Path $ReportDirectory 'makguard.xml')",
    '--format', "markdown=$(Join-Path $ReportDirectory 'makguard.md')"
)

if (-not $Fix) {
    # makguard reads the WIM itself: no mount, so nothing to clean up afterwards.
    $scanArgs = @('scan', $ImagePath)
    if ($PSBoundParameters.ContainsKey('Index')) {
        $scanArgs += @('--index', $Index)
        $what = "image $Index of $ImagePath"
    } else {
        $what = "every image of $ImagePath"
    }
    $exitCode = Invoke-MakGuardExe ($scanArgs + $commonArgs + $reportArgs)
    Write-Outcome $exitCode $what
    Write-Host "makguard: reports in $ReportDirectory"
    exit $exitCode
}

# -Fix from here on: makguard fixes a mounted tree, not a WIM file.
$createdMount = $false
if (-not $MountPath) {
    $MountPath = Join-Path $env:TEMP ("makguard-mount-" + [guid]::NewGuid().ToString('N').Substring(0, 12))
}
if (-not (Test-Path -LiteralPath $MountPath)) {
    New-Item -ItemType Directory -Path $MountPath | Out-Null
    $createdMount = $true
} elseif (Get-ChildItem -LiteralPath $MountPath -Force | Select-Object -First 1) {
    Write-Host "makguard: the mount folder $MountPath is not empty." -ForegroundColor Red
    exit 2
}

$what = "image $Index of $ImagePath"
$mounted = $false
$save = $false
$exitCode = 3
try {
    Write-Host "makguard: mounting $what read-write at $MountPath (for -Fix)..."
    Mount-WindowsImage -ImagePath $ImagePath -Index $Index -Path $MountPath | Out-Null
    $mounted = $true

    $fixArgs = @('fix', $MountPath, '--report', (Join-Path $ReportDirectory 'makguard-fix.json')) + $commonArgs
    if ($Edition) { $fixArgs += @('--edition', $Edition) }
    Write-Host 'makguard: fixing embedded keys...'
    $fixCode = Invoke-MakGuardExe $fixArgs
    if ($fixCode -eq 2) {
        $exitCode = 2
        Write-Outcome $exitCode $what
    } else {
        Write-Host 'makguard: scanning the fixed image...'
        $scanArgs = @('scan', $MountPath) + $commonArgs + $reportArgs
        $exitCode = Invoke-MakGuardExe $scanArgs
        Write-Outcome $exitCode "the fixed $what"
        $save = ($fixCode -eq 0 -and $exitCode -eq 0)
        if (-not $save -and $exitCode -eq 0) {
            # The fix reported a problem the scan did not: trust the more careful answer.
            $exitCode = $fixCode
        }
    }
} catch {
    Write-Host "makguard: $($_.Exception.Message)" -ForegroundColor Red
    if (-not $mounted) {
        Write-Host "makguard: $what could not be mounted, so it was not scanned. If DISM left a stale mount behind, run DISM /Cleanup-Mountpoints." -ForegroundColor Red
        $exitCode = 3
    } elseif ($exitCode -eq 0) {
        $exitCode = 3
    }
    $save = $false
} finally {
    $dismounted = -not $mounted
    if ($mounted) {
        try {
            if ($save) {
                Write-Host 'makguard: saving the fixed image (Dismount-WindowsImage -Save)...'
                Dismount-WindowsImage -Path $MountPath -Save | Out-Null
            } else {
                Write-Host 'makguard: discarding all changes: the image stays as it was.' -ForegroundColor Yellow
                Dismount-WindowsImage -Path $MountPath -Discard | Out-Null
            }
            $dismounted = $true
        } catch {
            Write-Host "makguard: dismounting failed: $($_.Exception.Message)" -ForegroundColor Red
            if ($save) {
                try {
                    Dismount-WindowsImage -Path $MountPath -Discard | Out-Null
                    $dismounted = $true
                    Write-Host 'makguard: the changes were discarded instead.' -ForegroundColor Yellow
                } catch {
                    Write-Host "makguard: discarding failed too: $($_.Exception.Message)" -ForegroundColor Red
                }
            }
            if (-not $dismounted) {
                Write-Host "makguard: the image is still mounted at ${MountPath}: run Dismount-WindowsImage -Path '$MountPath' -Discard (or DISM /Cleanup-Mountpoints)." -ForegroundColor Red
            }
            $exitCode = 3
        }
    }
    # Only an empty folder this script created is removed: never anything under a mount.
    if ($createdMount -and $dismounted -and (Test-Path -LiteralPath $MountPath)) {
        Remove-Item -LiteralPath $MountPath -Force -ErrorAction SilentlyContinue
    }
}
Write-Host "makguard: reports in $ReportDirectory"
exit $exitCode
