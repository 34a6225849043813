# R forecast's side of S4: ets() or thetaf() on each series of a file.
#   Rscript peer_forecast.R METHOD SERIES_FILE PERIOD HORIZON REPS OUT_FILE
# METHOD: ets or theta. SERIES_FILE: one series per line, values separated
# by spaces. Per series, fit + forecast of HORIZON steps is timed REPS times
# (wall-clock and CPU) after one untimed call; prints one JSON object with the
# per-series times and model names and writes one line of point forecasts per
# series to OUT_FILE.
args <- commandArgs(trailingOnly = TRUE)
method <- args[1]
lines <- readLines(args[2])
period <- as.integer(args[3]); horizon <- as.integer(args[4]); reps <- as.integer(args[5])
suppressMessages(library(forecast))
run <- function(y) {
  yt <- ts(y, frequency = period)
  if (method == "ets") {
    m <- ets(yt)
    list(mean = as.numeric(forecast(m, h = horizon)$mean), name = m$method)
  } else {
    f <- thetaf(yt, h = horizon)
    list(mean = as.numeric(f$mean), name = "thetaf")
  }
}
series <- lapply(lines, function(l) as.numeric(strsplit(trimws(l), " +")[[1]]))
times <- list(); cpus <- list(); names <- character(0); out <- character(0)
for (y in series) {
  # proc.time counts milliseconds: a call faster than 50 ms is timed as the
  # mean of enough back-to-back calls to last about 0.2 s.
  t0 <- proc.time()[["elapsed"]]; res <- run(y); one <- proc.time()[["elapsed"]] - t0
  inner <- if (one < 0.05) ceiling(0.2 / max(one, 1e-3)) else 1
  s <- cp <- numeric(reps)
  for (r in seq_len(reps)) {
    t0 <- proc.time(); for (i in seq_len(inner)) res <- run(y); t1 <- proc.time() - t0
    s[r] <- t1[["elapsed"]] / inner; cp[r] <- (t1[["user.self"]] + t1[["sys.self"]]) / inner
  }
  times[[length(times) + 1]] <- s
  cpus[[length(cpus) + 1]] <- cp
  names <- c(names, res$name)
  out <- c(out, paste(sprintf("%.17g", res$mean), collapse = " "))
}
writeLines(out, args[6])
num <- function(x) paste0("[", paste(sprintf("%.9g", x), collapse = ", "), "]")
cat(sprintf('{"fit_forecast_s": [%s], "fit_forecast_cpu_s": [%s], "models": [%s], "version": "forecast %s"}\n',
            paste(sapply(times, num), collapse = ", "), paste(sapply(cpus, num), collapse = ", "),
            paste0('"', names, '"', collapse = ", "), packageVersion("forecast")))
