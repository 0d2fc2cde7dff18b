import { SAGA_STATUSES } from "../_components/types";
import { someOf, text, urlFilter } from "../_components/url-filter";

/** The sagas list's filter in the URL (?status=failed&type=file.upload&correlationId=…&error=…). */
export const sagaUrlFilter = urlFilter({
  status: someOf(SAGA_STATUSES),
  type: text(100),
  correlationId: text(200),
  error: text(200),
});

export type SagaFilter = ReturnType<typeof sagaUrlFilter.parse>;
