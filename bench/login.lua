-- wrk script: JSON log-in of the benchmark user, repeated.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"login":"benchuser","password":"correct horse battery staple"}'
