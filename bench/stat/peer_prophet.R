# R prophet's side of S1: fit and predict-with-intervals times on one series.
#   Rscript peer_prophet.R TRAIN_CSV REPS HORIZON INTERVAL SAMPLES OUT_CSV
# TRAIN_CSV has columns ds (YYYY-MM-DD), y. Each call is timed alone, wall-clock
# and CPU, after one untimed warm-up (which also loads the compiled Stan
# model); prints one JSON object and writes ds, yhat, yhat_lower, yhat_upper of
# the forecast of the HORIZON days after the training series.
args <- commandArgs(trailingOnly = TRUE)
train <- read.csv(args[1], colClasses = c("character", "numeric"))
reps <- as.integer(args[2]); horizon <- as.integer(args[3])
interval <- as.numeric(args[4]); samples <- as.integer(args[5])
suppressMessages(library(prophet))
set.seed(42)
fit <- function() suppressMessages(prophet(train, interval.width = interval,
                                           uncertainty.samples = samples))
# Wall-clock and CPU (user + system of this process) seconds of one call.
timed <- function(f) {
  t0 <- proc.time(); v <- f(); t1 <- proc.time() - t0
  list(value = v, wall = t1[["elapsed"]], cpu = t1[["user.self"]] + t1[["sys.self"]])
}
m <- fit()
fit_s <- fit_c <- numeric(reps)
for (r in seq_len(reps)) { x <- timed(fit); m <- x$value; fit_s[r] <- x$wall; fit_c[r] <- x$cpu }
future <- make_future_dataframe(m, periods = horizon, include_history = FALSE)
fc <- predict(m, future)
pred_s <- pred_c <- numeric(reps)
for (r in seq_len(reps)) {
  x <- timed(function() predict(m, future)); fc <- x$value; pred_s[r] <- x$wall; pred_c[r] <- x$cpu
}
out <- data.frame(ds = format(as.Date(fc$ds), "%Y-%m-%d"), yhat = fc$yhat,
                  yhat_lower = fc$yhat_lower, yhat_upper = fc$yhat_upper)
write.csv(out, args[6], row.names = FALSE)
num <- function(x) paste0("[", paste(sprintf("%.9g", x), collapse = ", "), "]")
cat(sprintf(paste0('{"fit_s": %s, "fit_cpu_s": %s, "forecast_s": %s, "forecast_cpu_s": %s, ',
                   '"version": "prophet %s, rstan %s"}\n'),
            num(fit_s), num(fit_c), num(pred_s), num(pred_c), packageVersion("prophet"),
            packageVersion("rstan")))
